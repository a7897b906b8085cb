"""Writes for the organisation models. Views, admin actions, tasks and commands call these."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from portal.audit import audit_context, log_summary
from portal.scoping import scope_for

from .choices import GroupStatus, ImportKind, ImportStatus
from .importing import staging
from .importing.employees import EmployeeFile, plan_employees, preview_employees, read_employee_file
from .importing.errors import ImportValidationError
from .importing.readers import count_rows
from .importing.roster import RosterFile, plan_roster, preview_roster, read_roster_file, write_roster
from .importing.writers import write_employees
from .models import PATH_SEPARATOR, ChatGroup, Department, Employee, ImportJob, RosterSettings
from .offboarding import SOURCE_IMPORT, end_access_of_departed
from .signals import send_rosters_changed

logger = logging.getLogger(__name__)


@transaction.atomic
def create_department(name: str, *, parent: Department | None = None, acting_user=None, **fields) -> Department:
    """Add a department under ``parent`` (or a new root). Keeps the tree path and name_path right.

    With ``acting_user`` the audit entry names who did it (API and admin callers pass it).
    """
    name = name.strip()
    if not name or PATH_SEPARATOR in name:
        raise ValueError(f"invalid department name: {name!r}")
    kwargs = {"name": name, **fields}
    with audit_context(acting_user):
        if parent is None:
            return Department.objects.add_root(create_kwargs=kwargs)
        node = Department.objects.add_child(parent, create_kwargs=kwargs)
    parent.refresh_from_db()  # numchild changed
    return node


@transaction.atomic
def ensure_department_path(name_path: str, *, cache: dict[str, Department] | None = None) -> Department:
    """Return the department at ``总公司/销售部/华东区``, creating missing levels."""
    cache = cache if cache is not None else {}
    parts = [p.strip() for p in name_path.strip().strip(PATH_SEPARATOR).split(PATH_SEPARATOR)]
    if not parts or any(not p for p in parts):
        raise ValueError(f"invalid department path: {name_path!r}")
    parent: Department | None = None
    for depth in range(1, len(parts) + 1):
        key = PATH_SEPARATOR.join(parts[:depth])
        node = cache.get(key) or Department.objects.filter(name_path=key).first()
        if node is None:
            node = create_department(parts[depth - 1], parent=parent)
        cache[key] = node
        parent = node
    assert parent is not None  # parts is not empty
    return parent


# --- Roster imports ----------------------------------------------------------------------------
# The file is read and validated outside the write transaction (so that progress is visible to the
# page polling it), then planned and written inside one transaction: the plan is computed from the
# rows the transaction sees, and any invalid row means nothing is written.

Progress = Callable[[int], None] | None


class EnqueueError(Exception):
    """The task queue (Redis) is unreachable; the upload is kept so the import can be retried."""


def _audit_import(job: ImportJob, summary: dict[str, Any], acting_user, *, departments: Sequence[str] = ()) -> None:
    """One audit row per import: bulk writes bypass auditlog's per-object signals (the departments an
    employee import created are named in it, not audited one by one)."""
    text = ", ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, dict))
    data: dict[str, Any] = {"kind": job.kind, "file": job.original_name, "summary": summary}
    if departments:
        data["departments_created"] = list(departments)
    log_summary(job, label=str(job), changes={"import": [job.get_kind_display(), text]}, data=data, actor=acting_user)


def import_employees(
    path: str | Path,
    *,
    acting_user,
    job: ImportJob,
    dry_run: bool = False,
    progress: Progress = None,
    reconcile: bool = True,
    create_departments: bool = False,
) -> dict[str, Any]:
    """Import an employee roster: upsert by 工号, record departures.

    Departments are matched by full path, 部门编码 or unique leaf name (importing.directory); unknown
    full paths are created only with ``create_departments`` (else their rows are errors). A dry run
    lists them in ``new_departments`` either way, with ``departments_need_consent`` when not chosen.
    Returns the preview (summary counts and the first rows of each change). Raises
    ImportValidationError (nothing written) when any row is invalid. With ``dry_run`` only plans.
    A real import queues a roster reconciliation after commit (departures make findings).
    """
    data = read_employee_file(path, progress=progress)
    return _apply_employees(
        data,
        acting_user=acting_user,
        job=job,
        dry_run=dry_run,
        reconcile=reconcile,
        create_departments=create_departments,
    )


def _apply_employees(
    data: EmployeeFile, *, acting_user, job: ImportJob, dry_run: bool, reconcile: bool, create_departments: bool
) -> dict[str, Any]:
    # A dry run only reads: no write transaction (SQLite's would lock other writers out meanwhile).
    with nullcontext() if dry_run else transaction.atomic():
        plan = plan_employees(data, create_departments=create_departments or dry_run)
        preview = preview_employees(plan)
        preview["encoding"] = data.encoding
        preview["departments_need_consent"] = bool(plan.new_departments) and not create_departments
        if not dry_run:
            moves = planned_department_moves(plan)
            created = write_employees(plan)
            record_department_moves(moves)
            # Bulk writes send no signals: end the logins of everyone now departed, in this transaction.
            end_access_of_departed(acting_user=acting_user, source=SOURCE_IMPORT, detail=f"import job {job.pk}")
            _audit_import(job, preview["summary"], acting_user, departments=created)
            send_rosters_changed(None)  # departures change every group's departed members
            if reconcile:
                _reconcile_after_commit()
    return preview


def _reconcile_after_commit() -> None:
    """Queue reconciliation once the import is committed (the regulations want departures found at once)."""
    from .tasks import enqueue_reconcile  # tasks import this module

    if not enqueue_reconcile():
        logger.warning("roster imported, but the reconciliation could not be queued; the daily run will catch up")


def import_group_roster(
    path: str | Path,
    *,
    acting_user,
    job: ImportJob,
    group: ChatGroup | None = None,
    dry_run: bool = False,
    progress: Progress = None,
    reconcile: bool = True,
) -> dict[str, Any]:
    """Import group rosters as snapshots (one group, or many with a 群名称 column).

    Members are matched by platform id, nickname convention, then unique name; missing members get
    ``left_at``. Groups named in the file are looked up among those ``acting_user`` may see.
    Raises ImportValidationError (nothing written) when any row is invalid.
    """
    groups = ChatGroup.objects.active()
    if acting_user is not None:
        groups = groups.visible_to(acting_user)
        if group is not None and not scope_for(acting_user).is_hr:
            # A group admin imports their own group's roster: a 群名称 column cannot reach another group.
            groups = groups.filter(pk=group.pk)
    data = read_roster_file(path, group=group, groups=groups, progress=progress)
    return _apply_roster(data, acting_user=acting_user, job=job, dry_run=dry_run, reconcile=reconcile)


def _apply_roster(data: RosterFile, *, acting_user, job: ImportJob, dry_run: bool, reconcile: bool) -> dict[str, Any]:
    with nullcontext() if dry_run else transaction.atomic():
        plan = plan_roster(data)
        preview = preview_roster(plan)
        preview["encoding"] = data.encoding
        if not dry_run:
            write_roster(plan)
            _audit_import(job, preview["summary"], acting_user)
            send_rosters_changed(sorted(data.groups))  # the file's groups: their members changed
            if reconcile:
                _reconcile_after_commit()
    return preview


def apply_roster_snapshot(data: RosterFile, *, acting_user, job: ImportJob) -> dict[str, Any]:
    """Write group rosters read from a platform's API (the WeCom sync) as a confirmed upload is
    written: the same plan, write, audit entry and rosters_changed signal. The lines are validated
    and matched by the caller; no reconciliation is queued (the sync queues one when it ends)."""
    return _apply_roster(data, acting_user=acting_user, job=job, dry_run=False, reconcile=False)


# --- Import jobs (admin uploads, the command, the Celery task) ---------------------------------


def _job_progress(job: ImportJob) -> Callable[[int], None]:
    def report(rows: int) -> None:
        # Outside the write transaction, so the page polling the job sees it move.
        total = max(job.total_rows, rows)
        ImportJob.objects.filter(pk=job.pk).update(processed_rows=min(rows, total), total_rows=total)

    return report


def _execute(job: ImportJob, path: str | Path, *, acting_user, dry_run: bool, progress: Progress) -> dict[str, Any]:
    if job.kind == ImportKind.EMPLOYEES:
        return _execute_employees(job, path, acting_user=acting_user, dry_run=dry_run, progress=progress)
    return import_group_roster(
        path, acting_user=acting_user, job=job, group=job.group, dry_run=dry_run, progress=progress
    )


def _execute_employees(
    job: ImportJob, path: str | Path, *, acting_user, dry_run: bool, progress: Progress
) -> dict[str, Any]:
    """The validation reads the file and keeps its checked rows; the confirm writes from them
    (re-planned against the database in the write transaction), reading the file only without them."""
    data = None if dry_run else staging.staged_employees(job)
    if data is None:
        data = read_employee_file(path, progress=progress)
    elif progress:
        progress(len(data.rows))
    encoded = staging.encode_employees(data) if dry_run else None  # before the plan rewrites the rows
    preview = _apply_employees(
        data,
        acting_user=acting_user,
        job=job,
        dry_run=dry_run,
        reconcile=True,
        create_departments=job.create_departments,
    )
    if encoded is not None:
        staging.stage(job, encoded)
    return preview


def create_import_job(
    *,
    kind: str,
    acting_user,
    upload: File | None = None,
    original_name: str = "",
    group: ChatGroup | None = None,
    create_departments: bool = False,
) -> ImportJob:
    """Record an upload: the job row first, then the file under MEDIA_ROOT/imports.

    Nothing is parsed here (the file may be hostile): validate_import counts and checks it in the
    worker. No transaction is held while the file is stored, and a job whose file never finishes
    storing is still a row that expire_imports cleans up. The command line passes no ``upload``:
    it reads the file in place and only keeps the job row.
    """
    job = ImportJob(
        kind=kind,
        group=group,
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
        create_departments=create_departments,
    )
    job.original_name = Path(original_name or getattr(upload, "name", "") or "").name[:255]
    job.save()
    if upload is not None:
        job.size = upload.size or 0
        job.file.save(f"{uuid.uuid4().hex}{Path(job.original_name).suffix.lower()}", upload, save=False)
        ImportJob.objects.filter(pk=job.pk).update(file=job.file.name, size=job.size)
    return job


def _finish(job: ImportJob, status: str, *, expected: Iterable[str] | None = None, **fields: Any) -> ImportJob:
    """Record the outcome and delete the stored upload: personal data is not left behind.

    With ``expected``, the outcome is recorded only if the job is still in one of those states
    (a job cancelled while a worker validated it stays cancelled).
    """
    if job.file:
        job.file.delete(save=False)
    staging.drop_stage(job)
    values = {**fields, "status": status, "finished_at": timezone.now(), "file": ""}
    if expected is None:
        for name, value in values.items():
            setattr(job, name, value)
        job.save()
        return job
    if not ImportJob.objects.filter(pk=job.pk, status__in=list(expected)).update(**values):
        ImportJob.objects.filter(pk=job.pk).update(file="")
    job.refresh_from_db()
    return job


FAILED_MESSAGE = gettext_lazy(
    "处理文件时发生系统错误,未写入任何数据。请重新上传;若仍失败请联系管理员(详情已记入日志)。"
)


MISSING_FILE_MESSAGE = gettext_lazy("上传的文件已不存在,请重新上传。")


def _stale_validation() -> Q:
    stale = timezone.now() - timedelta(minutes=settings.ROSTER_VALIDATE_STALE_MINUTES)
    return Q(status=ImportStatus.VALIDATING, started_at__lt=stale) | Q(
        status=ImportStatus.VALIDATING, started_at__isnull=True
    )


def validate_import(job_id: int) -> ImportJob | None:
    """Validate an uploaded job's file and store its preview (no domain writes).

    Runs in the worker (eagerly in the embedded default), never holding a write transaction while
    the file is parsed; the caps of ``importing.readers`` bound a hostile file. Claims the job with
    a conditional update, so a redelivered task does nothing; a job left 校验中 by a killed worker
    may be claimed again after ROSTER_VALIDATE_STALE_MINUTES. Any failure leaves the job
    无效 (with its row errors) or 失败 (with a message), never 校验中. Returns None when the job
    was not waiting for validation.
    """
    if not ImportJob.objects.filter(Q(status=ImportStatus.UPLOADED) | _stale_validation(), pk=job_id).update(
        status=ImportStatus.VALIDATING, started_at=timezone.now(), processed_rows=0, total_rows=0
    ):
        return None
    job = ImportJob.objects.get(pk=job_id)
    working = [ImportStatus.VALIDATING]
    try:
        if not job.file:
            raise ImportValidationError([str(MISSING_FILE_MESSAGE)])
        job.total_rows = count_rows(job.file.path)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
        preview = _execute(job, job.file.path, acting_user=job.created_by, dry_run=True, progress=_job_progress(job))
    except ImportValidationError as exc:
        return _finish(job, ImportStatus.INVALID, expected=working, errors=exc.messages)
    except Exception:
        logger.exception("validating import job %s failed", job_id)
        return _finish(job, ImportStatus.FAILED, expected=working, errors=[str(FAILED_MESSAGE)])
    if not ImportJob.objects.filter(pk=job.pk, status=ImportStatus.VALIDATING).update(
        preview=preview, encoding=preview.get("encoding", "")[:20], status=ImportStatus.PREVIEWED
    ):
        staging.drop_stage(job)  # cancelled (its file deleted) while this validation ran
    job.refresh_from_db()
    return job


def run_import(job_id: int) -> ImportJob | None:
    """Write a previewed (or queued) job in one transaction, from the rows its validation kept
    (groups.importing.staging; the file is read and validated again only without them).

    Idempotent: the claim is a conditional update on the status, so a second delivery of the same
    task does nothing; a job left RUNNING by a killed worker may be claimed again after the task
    time limit (its transaction was rolled back with the worker). A database error is recorded as
    失败 with a Chinese message (the traceback goes to the log), never shown to the user.
    """
    stale = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(status__in=[ImportStatus.PREVIEWED, ImportStatus.QUEUED]) | Q(
        status=ImportStatus.RUNNING, started_at__lt=stale
    )
    if not ImportJob.objects.filter(claimable, pk=job_id).update(
        status=ImportStatus.RUNNING, started_at=timezone.now(), processed_rows=0
    ):
        return None
    job = ImportJob.objects.get(pk=job_id)
    try:
        summary = _execute(job, job.file.path, acting_user=job.created_by, dry_run=False, progress=_job_progress(job))
    except ImportValidationError as exc:
        return _finish(job, ImportStatus.INVALID, errors=exc.messages)
    except Exception:
        logger.exception("import job %s failed", job_id)
        return _finish(job, ImportStatus.FAILED, errors=[str(FAILED_MESSAGE)])
    return _finish(job, ImportStatus.DONE, summary=summary["summary"], processed_rows=job.total_rows)


def is_large_import(job: ImportJob) -> bool:
    return job.total_rows > getattr(settings, "ROSTER_IMPORT_ASYNC_ROWS", 5000)


def _enqueue(task_name: str, job_id: int, back_to: str, *, defer: bool = False) -> None:
    """Send the job's task. When the broker is down: with ``defer`` record it to be sent once the
    broker is back (portal.outbox; the API's callers cannot click "retry"), else put the job back to
    ``back_to`` and raise EnqueueError (the pages say so and offer to retry)."""
    from portal import outbox

    from . import tasks

    task = getattr(tasks, task_name)
    try:
        if not outbox.broker_available():  # checked first: a dead Redis held delay() for ~20 s
            raise ConnectionError("broker unavailable")
        result = task.delay(job_id)
    except Exception as exc:  # kombu/redis raise many types; the message must reach the user
        if defer:
            outbox.record(task.name, [job_id], error=str(exc))
            return
        logger.exception("could not enqueue %s for import job %s", task_name, job_id)
        ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(status=back_to)
        raise EnqueueError(str(exc)) from exc
    ImportJob.objects.filter(pk=job_id).update(task_id=(result.id or "")[:100])


def queue_validation(job: ImportJob, *, acting_user, defer: bool = False) -> None:
    """Validate an upload in the worker (in-process, right now, when tasks run eagerly).

    Not atomic, and called outside any transaction: the job row is committed already, and an
    eager validation must not parse the file inside a write transaction (SQLite would lock every
    other writer out). A job left 校验中 by a killed worker (ROSTER_VALIDATE_STALE_MINUTES) goes
    back to 待校验 first. Raises EnqueueError unless ``defer`` (then a broker outage only delays it:
    the task is recorded and sent once the broker is back, see _enqueue).
    """
    ImportJob.objects.filter(_stale_validation(), pk=job.pk).update(status=ImportStatus.UPLOADED)
    _enqueue("validate_import_task", job.pk, ImportStatus.UPLOADED, defer=defer)


def may_revalidate(job: ImportJob) -> bool:
    """Waiting for validation, or stuck in 校验中 (the worker died)."""
    return ImportJob.objects.filter(Q(status=ImportStatus.UPLOADED) | _stale_validation(), pk=job.pk).exists()


def confirm_import(
    job: ImportJob, *, acting_user, defer: bool = False, create_departments: bool | None = None
) -> ImportJob | None:
    """Confirm a previewed job: small files import now, large ones are queued for a worker.

    ``create_departments`` records the importer's choice to create the departments the preview
    listed (without it their rows are errors). Not atomic itself: run_import writes in its own
    transaction and must be able to record a failure. Raises EnqueueError when the queue is
    unreachable (the job returns to 待确认, file kept).
    """
    if create_departments is not None and create_departments != job.create_departments:
        ImportJob.objects.filter(pk=job.pk).update(create_departments=create_departments)
        job.create_departments = create_departments
    if not is_large_import(job):
        return run_import(job.pk)
    _queue_run(job, defer=defer)
    return None


@transaction.atomic
def _queue_run(job: ImportJob, *, defer: bool = False) -> None:
    if ImportJob.objects.filter(pk=job.pk, status=ImportStatus.PREVIEWED).update(status=ImportStatus.QUEUED):
        transaction.on_commit(lambda: _enqueue("run_import_task", job.pk, ImportStatus.PREVIEWED, defer=defer))


@transaction.atomic
def cancel_import(job: ImportJob, *, acting_user, reason: str = "") -> bool:
    """Abandon an import that has not started writing (or whose validation is stuck, or that
    failed); its stored file is deleted. Import records are never deleted: HR cancels one with a
    ``reason``, kept on the job and in the audit log. Returns False when the job was already applied
    (or is being applied) or finished otherwise."""
    reason = (reason or "").strip()
    waiting = [
        ImportStatus.UPLOADED,
        ImportStatus.VALIDATING,
        ImportStatus.PREVIEWED,
        ImportStatus.INVALID,
        ImportStatus.FAILED,
    ]
    before = job.status
    if not ImportJob.objects.filter(pk=job.pk, status__in=waiting).update(status=ImportStatus.CANCELLED):
        return False
    job.refresh_from_db()
    _finish(job, ImportStatus.CANCELLED, cancel_reason=reason)
    with audit_context(acting_user):
        log_summary(
            job,
            label=str(job),
            changes={"status": [before, ImportStatus.CANCELLED]},
            data={"reason": reason} if reason else {},
            actor=acting_user,
        )
    return True


ABANDONED = (ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.PREVIEWED)


def expire_imports(now=None) -> int:
    """Delete the uploads nobody finished: personal data is not left on disk.

    Jobs still waiting (待校验, 校验中, 待确认) ROSTER_UPLOAD_KEEP_HOURS after their upload are
    cancelled with their file deleted; files of other finished jobs, and files under
    MEDIA_ROOT/imports that no job refers to (an upload cut off while stored), are deleted too.
    Returns how many files were deleted.
    """
    from django.core.files.storage import default_storage

    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.ROSTER_UPLOAD_KEEP_HOURS)
    deleted = 0
    for job in ImportJob.objects.filter(status__in=ABANDONED, created_at__lt=cutoff):
        had_file = bool(job.file)
        _finish(job, ImportStatus.CANCELLED, expected=[job.status], errors=[str(EXPIRED_MESSAGE)])
        deleted += had_file
    waiting = [*ABANDONED, ImportStatus.QUEUED, ImportStatus.RUNNING]
    for job in ImportJob.objects.filter(created_at__lt=cutoff).exclude(file="").exclude(status__in=waiting):
        job.file.delete(save=False)
        ImportJob.objects.filter(pk=job.pk).update(file="")
        deleted += 1
    known = set(ImportJob.objects.exclude(file="").values_list("file", flat=True))
    for kind in ImportKind.values:
        folder = f"imports/{kind}"
        if not default_storage.exists(folder):
            continue
        for name in default_storage.listdir(folder)[1]:
            path = f"{folder}/{name}"
            if path not in known and default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
                deleted += 1
    return deleted


EXPIRED_MESSAGE = gettext_lazy("上传后长时间未完成,文件已按保留期限自动删除。")


# --- Employees and chat groups, one at a time (roster files go through the import service) --------


def _apply(instance, changes: dict) -> list[str]:
    """Set the changed attributes; return their names for save(update_fields=...)."""
    changed = [name for name, value in changes.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, changes[name])
    return changed


@transaction.atomic
def create_employee(*, acting_user, **fields) -> Employee:
    """Add one employee to the roster. The model's validation (unique 工号, dates) runs first."""
    employee = Employee(**fields)
    employee.full_clean()
    with audit_context(acting_user):
        employee.save()
    return employee


@transaction.atomic
def update_employee(employee: Employee, *, acting_user, **changes) -> Employee:
    """Change an employee's fields; only the changed columns are written and audited."""
    old_department_id = employee.department_id
    changed = _apply(employee, changes)
    if changed:
        employee.full_clean()
        with audit_context(acting_user):
            employee.save(update_fields=[*changed, "updated_at"])
            if employee.department_id != old_department_id:
                record_department_moves([(employee.pk, old_department_id, employee.department_id)])
    return employee


@transaction.atomic
def delete_employee(employee: Employee, *, acting_user) -> None:
    """Remove an employee entered by mistake. Anyone with group history is protected (ProtectedError):
    people who leave the company are marked departed instead, so the history stays."""
    with audit_context(acting_user):
        employee.delete()


def _dissolution(group: ChatGroup, changes: dict) -> None:
    """Keep ``dissolved_at`` in step with ``status`` (a database constraint ties them)."""
    status = changes.get("status", group.status)
    if status == GroupStatus.DISSOLVED and group.dissolved_at is None:
        changes["dissolved_at"] = timezone.now()
    elif status != GroupStatus.DISSOLVED:
        changes["dissolved_at"] = None


@transaction.atomic
def create_chat_group(*, acting_user, admins: Iterable[Employee] = (), **fields) -> ChatGroup:
    """Register a work chat group (and its admins)."""
    group = ChatGroup(**fields)
    _dissolution(group, fields)
    group.dissolved_at = fields.get("dissolved_at")
    group.full_clean()
    with audit_context(acting_user):
        group.save()
        group.admins.set(admins)
    return group


@transaction.atomic
def update_chat_group(
    group: ChatGroup, *, acting_user, admins: Iterable[Employee] | None = None, **changes
) -> ChatGroup:
    """Change a chat group; dissolving it stamps ``dissolved_at``, reactivating clears it."""
    group = ChatGroup.objects.select_for_update().get(pk=group.pk)
    _dissolution(group, changes)
    changed = _apply(group, changes)
    with audit_context(acting_user):
        if changed:
            group.full_clean()
            group.save(update_fields=[*changed, "updated_at"])
        if admins is not None:
            group.admins.set(admins)
    return group


@transaction.atomic
def delete_chat_group(group: ChatGroup, *, acting_user) -> None:
    """Delete a chat group registered by mistake, with its roster rows (dissolve real groups instead)."""
    with audit_context(acting_user):
        group.delete()


@transaction.atomic
def save_roster_settings(roster_settings: RosterSettings, *, acting_user) -> RosterSettings:
    """Save HR's roster settings (the departed-member deadline), validated and audited."""
    roster_settings.full_clean()
    with audit_context(acting_user):
        roster_settings.save()
    return roster_settings


# --- A group admin's daily work on their own groups (portal pages groups/work_views.py) -----------
# Each write checks that ``acting_user`` administers the finding's group (HR: every group) and runs
# inside ``audit_context(acting_user, channel)``; a finding of another group is "not found".

MEMBER_KINDS = (
    "departed_member",
    "outsider",
    "bad_nickname",
    "still_present",
    "rejoined_barred",
    "moved_department",
)


class NotYourGroup(Exception):
    """The finding or group is not one ``acting_user`` administers (the pages answer 404)."""


def _own_open_finding(finding_id: int, acting_user, kinds: Iterable[str] | None = None):
    from .models import RosterFinding

    findings = RosterFinding.objects.open().filter(group__in=ChatGroup.objects.administered_by(acting_user))
    if kinds is not None:
        findings = findings.filter(kind__in=list(kinds))
    finding = findings.select_for_update(of=("self",)).filter(pk=finding_id).first()
    if finding is None:
        raise NotYourGroup(finding_id)
    return finding


def _resolve_finding(finding, acting_user, now) -> None:
    from .findings import ReconcileRun

    latest = ReconcileRun.latest_at()
    if latest and latest > finding.last_seen_at:  # from now on the stored value is what "last seen" shows
        finding.last_seen_at = latest
    finding.status = "resolved"
    finding.resolved_at = now
    finding.resolved_by = acting_user
    finding.save(update_fields=["status", "resolved_at", "resolved_by", "last_seen_at"])


@transaction.atomic
def confirm_member_removed(finding_id: int, *, acting_user, channel: str | None = None) -> int:
    """已移出群: the admin removed the member; the membership is closed (``left_at``) and its open
    findings resolve (``groups.reconcile.mark_removed``). Returns the number of memberships closed."""
    from . import reconcile

    finding = _own_open_finding(finding_id, acting_user, MEMBER_KINDS)
    with audit_context(acting_user, channel):
        return reconcile.mark_removed([finding.pk], acting_user=acting_user)


@transaction.atomic
def mark_nickname_fixed(finding_id: int, *, acting_user, channel: str | None = None, nickname: str = "") -> None:
    """The member changed their group nickname: the membership's nickname becomes the new one (the
    expected nickname unless given), so the next reconciliation does not find it again until a
    roster snapshot says otherwise; the finding resolves."""
    from .models import Membership

    finding = _own_open_finding(finding_id, acting_user, ["bad_nickname"])
    nickname = (nickname or finding.detail).strip()[:200]
    if not nickname:
        from django.core.exceptions import ValidationError

        raise ValidationError({"nickname": gettext_lazy("请填写修改后的群昵称。")})
    now = timezone.now()
    with audit_context(acting_user, channel):
        membership = Membership.objects.select_for_update().get(pk=finding.membership_id)
        if membership.nickname != nickname:
            membership.nickname = nickname
            membership.save(update_fields=["nickname", "updated_at"])
        _resolve_finding(finding, acting_user, now)


@transaction.atomic
def chase_nickname(finding_id: int, *, acting_user, channel: str | None = None) -> int:
    """催改: remind the member to fix their nickname. A notification row when the member has a channel
    (portal.notifications); the chase itself is always recorded in the audit trail. Returns the
    number of notification rows written (0: recorded only)."""
    from django.utils.translation import gettext

    from portal.notifications import send_notification

    finding = _own_open_finding(finding_id, acting_user, ["bad_nickname"])
    group = finding.group
    member = finding.employee
    nickname = finding.membership.nickname if finding.membership_id else ""
    subject = gettext("【群规】请修改您在 %(group)s 的群昵称") % {"group": group.name}
    body = gettext("您当前的群昵称“%(now)s”不符合群昵称规范,请改为“%(expected)s”。") % {
        "now": nickname,
        "expected": finding.detail,
    }
    with audit_context(acting_user, channel):
        logs = send_notification(member, subject, body) if member is not None and member.is_active else []
        log_summary(
            finding,
            label=gettext("催改群昵称:%(who)s") % {"who": member.name if member else nickname},
            changes={"chase": [None, finding.detail]},
            data={"chase": True, "notifications": [log.pk for log in logs], "group": group.pk},
            actor=acting_user,
        )
    return len(logs)


def successor_choices(group: ChatGroup, *, suggested_id: int | None = None):
    """Who may take over a group: active employees who are open members or admins of it (and the
    successor reconciliation suggested, e.g. the department head)."""
    from .models import Membership

    members = Membership.objects.open().filter(group=group, employee__isnull=False).values("employee_id")
    query = Q(pk__in=members) | Q(administered_groups=group)
    if suggested_id:
        query |= Q(pk=suggested_id)
    return Employee.objects.active().filter(query).exclude(pk=group.owner_id).distinct().order_by("name")


def apply_successor(finding_id: int, successor: Employee, *, acting_user, channel: str | None = None) -> ChatGroup:
    """离职继承: the group's departed owner is replaced by ``successor`` (the suggested one or another
    active employee of the group); the change is audited and the finding resolves.

    A WeCom customer group (``succession.api_transfer_refusal`` is empty) is handed over through
    ``externalcontact/groupchat/transfer`` first: only when WeCom transferred it does the owner
    change. Otherwise the failure is kept (a ``WeComTransfer`` row with WeCom's errcode, read on the
    finding) and ``TransferFailed`` names it; the finding stays open.
    """
    group, failure = _apply_successor(finding_id, successor, acting_user=acting_user, channel=channel)
    if failure is not None:  # raised after the commit: the failed row stays for HR
        raise failure
    return group


@transaction.atomic
def _apply_successor(finding_id: int, successor: Employee, *, acting_user, channel: str | None):
    from django.core.exceptions import ValidationError

    from .succession import TransferFailed, api_transfer_refusal, transfer_chats

    finding = _own_open_finding(finding_id, acting_user, ["owner_departed"])
    group = finding.group
    choices = successor_choices(group, suggested_id=finding.suggested_successor_id)
    if not choices.filter(pk=successor.pk).exists():
        raise ValidationError({"successor": gettext_lazy("继任群主须是本群在职的成员或管理员。")})
    with audit_context(acting_user, channel):
        if not api_transfer_refusal(group):
            # The finding's row lock (``_own_open_finding``) keeps a second click from a second call.
            [transfer] = transfer_chats([group], successor, acting_user=acting_user, findings=[finding])
            if transfer.status != "transferred":
                return group, TransferFailed({"successor": transfer.explanation})
        group = update_chat_group(group, acting_user=acting_user, owner=successor)
        _resolve_finding(finding, acting_user, timezone.now())
    return group, None


# --- A membership's lifecycle (groups/lifecycle.py; reconciliation in groups/lifecycle_checks.py) ----


def record_reported_removals(memberships: Iterable, *, acting_user, source: str) -> list:
    """The memberships just closed by someone's word (已移出群, a 清出群 carried out): each waits for
    the group's next roster snapshot (``lifecycle_checks.check_snapshot``). Saved one by one: audited."""
    from .lifecycle import ReportedRemoval

    made = []
    for membership in memberships:
        report, _created = ReportedRemoval.objects.update_or_create(
            membership=membership,
            defaults={
                "group_id": membership.group_id,
                "employee_id": membership.employee_id,
                "member_key": membership.member_key,
                "source": source,
                "reported_at": membership.left_at,
                "reported_by": acting_user,
                "checked_at": None,
                "reappeared": None,
            },
        )
        made.append(report)
    return made


def _bar_end(start, days: int | None):
    return None if days is None else timezone.localdate(start) + timedelta(days=days)


@transaction.atomic
def remove_from_group(
    group: ChatGroup, employee: Employee, *, acting_user, source: str, days: int | None, reason: str = "", at=None
) -> int:
    """清出群 carried out (called by ``violations.services.record_removal_done``): the employee's open
    membership of the group closes (its open findings resolve, the removal waits for the next
    snapshot) and a rejoin bar is written: ``days`` after the removal, ``None`` permanent.
    ``source`` names the sanction, so a retry writes the bar once. Returns the memberships closed."""
    from . import reconcile
    from .choices import RemovalSource, RestrictionKind
    from .lifecycle import MemberRestriction
    from .models import Membership

    at = at or timezone.now()
    with audit_context(acting_user):
        ids = set(Membership.objects.open().filter(group=group, employee=employee).values_list("pk", flat=True))
        reconcile._close_memberships(ids, acting_user, at, source=RemovalSource.SANCTION)
        MemberRestriction.objects.get_or_create(
            kind=RestrictionKind.REJOIN_BAR,
            group=group,
            employee=employee,
            source=source,
            defaults={"starts_at": at, "until": _bar_end(at, days), "reason": reason[:300]},
        )
    return len(ids)


@transaction.atomic
def mute_in_group(
    group: ChatGroup, employee: Employee, *, acting_user, source: str, days: int | None, reason: str = "", at=None
):
    """禁言 carried out: a mute of ``days`` days from ``at`` (``None``: until lifted), shown to the
    group's admins (禁言至 …). Written once per ``source``."""
    from .choices import RestrictionKind
    from .lifecycle import MemberRestriction

    at = at or timezone.now()
    with audit_context(acting_user):
        return MemberRestriction.objects.get_or_create(
            kind=RestrictionKind.MUTE,
            group=group,
            employee=employee,
            source=source,
            defaults={"starts_at": at, "until": _bar_end(at, days), "reason": reason[:300]},
        )[0]


def planned_department_moves(plan) -> list[tuple[str, str, str]]:
    """(工号, old department path, new path) of the employees an import moves: read before writing."""
    fields = plan.file.fields
    if "department" not in fields:
        return []
    at = fields.index("department")
    return [
        (no, plan.existing[no][at], plan.file.rows[no][at])
        for no in plan.updates
        if plan.existing[no][at] != plan.file.rows[no][at]
    ]


def record_department_moves(moves: list[tuple]) -> int:
    """调岗: one ``DepartmentMove`` per moved employee (bulk; the import's summary audits the import).

    ``moves`` are (employee id, from id, to id), or (工号, from path, to path) from an import."""
    from .lifecycle import DepartmentMove

    if not moves:
        return 0
    if isinstance(moves[0][0], str):
        emp_ids = dict(Employee.objects.filter(employee_no__in=[m[0] for m in moves]).values_list("employee_no", "pk"))
        paths = {m[1] for m in moves} | {m[2] for m in moves}
        dept_ids = dict(Department.objects.filter(name_path__in=paths).values_list("name_path", "pk"))
        moves = [
            (emp_ids[no], dept_ids[old], dept_ids[new])
            for no, old, new in moves
            if no in emp_ids and old in dept_ids and new in dept_ids
        ]
    now = timezone.now()
    DepartmentMove.objects.bulk_create(
        [DepartmentMove(employee_id=e, from_department_id=f, to_department_id=t, moved_at=now) for e, f, t in moves],
        batch_size=1000,
    )
    return len(moves)
