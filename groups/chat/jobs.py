"""Large chat uploads are read and written by a worker, with progress, and survive a killed worker.

An admin upload larger than ``CHAT_IMPORT_ASYNC_BYTES`` is not parsed in the request:
``preview_chat_import_task`` claims the job (已上传 → 校验中), reads the file with progress (lines
read, and a heartbeat, every ``store.PROGRESS_EVERY`` messages) and leaves it 待确认 / 有错误 / 失败.
Its confirmation queues ``run_chat_import_task`` (待确认 → 排队中), which claims it (→ 导入中) and
writes it in one transaction (``store.write_chat_import``) → 已完成.

Killed half-way, nothing is half-written (the write is one transaction; a preview only writes the
job row and a spool that is put in place at its end) and the job does not stay 校验中 / 导入中:
- 校验中 is dead once its heartbeat is older than ``CHAT_IMPORT_STALE_SECONDS``;
- 导入中 is dead once its row is no longer locked (PostgreSQL: the write transaction holds the lock
  for as long as it lives, and dies with the worker's connection); elsewhere after the task time
  limit.
A dead job goes back one step (已上传 / 排队中) and its task is sent again, by the redelivered task
itself (acks_late, ``portal.leases``), by the job's page as it polls, and by the sweep every few
minutes (``recover_chat_imports``); after ``CHAT_IMPORT_MAX_ATTEMPTS`` it is 失败. A second run
adds nothing twice (the natural keys, ON CONFLICT), and every outcome is recorded only by the run
that still holds the claim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from portal import outbox

from ..choices import ImportStatus
from ..importing.readers import count_lines
from . import store
from .models import ChatImport

logger = logging.getLogger(__name__)

FAILED_MESSAGE = gettext_lazy(
    "处理文件时发生系统错误,未写入任何消息。请重新上传;若仍失败请联系管理员(详情已记入日志)。"
)
GAVE_UP_MESSAGE = gettext_lazy("处理多次中断(后台任务被终止),未写入任何消息。请重新上传;若仍失败请联系管理员。")
EXPIRED_MESSAGE = gettext_lazy("上传后长时间未完成,文件已按保留期限自动删除。")
WORKING = (ImportStatus.UPLOADED, ImportStatus.VALIDATING, ImportStatus.QUEUED, ImportStatus.RUNNING)


def is_large(job: ChatImport) -> bool:
    return job.size > settings.CHAT_IMPORT_ASYNC_BYTES


def _tasks():
    from .. import tasks

    return tasks


# --- reading (the preview) ------------------------------------------------------------------------


def queue_preview(job: ChatImport, *, detect: bool) -> None:
    """Read the upload in a worker (after the response where tasks run in-process)."""
    ChatImport.objects.filter(pk=job.pk).update(preview={"detect": detect})  # for a resend after a dead worker
    outbox.send_after_response(_tasks().preview_chat_import_task, job.pk, detect)


def _stale_preview(now: datetime) -> Q:
    cutoff = now - timedelta(seconds=settings.CHAT_IMPORT_STALE_SECONDS)
    return Q(status=ImportStatus.VALIDATING) & (Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))


def _progress(job: ChatImport) -> Callable[[int], None]:
    def report(line: int) -> None:
        # Its own statement outside any transaction: the polling page sees it move, and it is the heartbeat.
        ChatImport.objects.filter(pk=job.pk, status=ImportStatus.VALIDATING, started_at=job.started_at).update(
            processed_lines=min(line, job.total_lines) if job.total_lines else line, heartbeat_at=timezone.now()
        )

    return report


def preview_job(job_id: int, *, detect: bool = False) -> ChatImport | None:
    """The preview task's work: claim an uploaded (or dead 校验中) job, read it with progress.
    Returns None when the job was not waiting to be read."""
    now = timezone.now()
    claim = {"status": ImportStatus.VALIDATING, "started_at": now, "heartbeat_at": now, "processed_lines": 0}
    claimable = Q(status=ImportStatus.UPLOADED) | _stale_preview(now)
    if not ChatImport.objects.filter(claimable, pk=job_id).update(**claim, attempts=F("attempts") + 1):
        return None
    job = ChatImport.objects.select_related("group").get(pk=job_id)
    mine = Q(pk=job.pk, status=ImportStatus.VALIDATING, started_at=now)
    if job.attempts > settings.CHAT_IMPORT_MAX_ATTEMPTS:
        return _fail(job, mine, GAVE_UP_MESSAGE)
    try:
        # the lines as the reader numbers them (every line-end style), uncapped: the progress reports
        # the line reached (the roster's row cap is no chat file's)
        job.total_lines = count_lines(job.file.path) if job.file else 0
        ChatImport.objects.filter(mine).update(total_lines=job.total_lines)
        result = store.preview_chat_import(job, detect=detect, progress=_progress(job), save=False)
    except Exception:
        logger.exception("reading chat import %s failed", job_id)
        return _fail(job, mine, FAILED_MESSAGE)
    fields = ["status", "errors", "preview", "encoding", "platform", "message_count", "first_sent_at",
              "last_sent_at", "matched_senders", "unmatched_senders", "finished_at", "file"]  # fmt: skip
    values = {name: getattr(result, name) for name in fields}
    values["file"] = result.file.name or ""
    if not ChatImport.objects.filter(mine).update(**values, processed_lines=F("total_lines")):
        return None  # another run took the job over meanwhile: its outcome counts
    return ChatImport.objects.get(pk=job_id)


def _fail(job: ChatImport, mine: Q, message) -> ChatImport:
    """失败, the file and the spool deleted (only by the run that holds the claim)."""
    if ChatImport.objects.filter(mine).update(
        status=ImportStatus.FAILED, errors=[str(message)], finished_at=timezone.now(), file=""
    ):
        store.drop_files(job)
    return ChatImport.objects.get(pk=job.pk)


# --- writing --------------------------------------------------------------------------------------


def confirm(job: ChatImport, *, acting_user, channel: str | None = None) -> ChatImport | None:
    """Confirm a previewed job: a small one is written now; a large one is queued (returns None).
    Raises store.ChatImportError for a job that cannot be confirmed."""
    if not is_large(job):
        return store.run_chat_import(job, acting_user=acting_user, channel=channel)
    with transaction.atomic():
        queued = ChatImport.objects.filter(pk=job.pk, status=ImportStatus.PREVIEWED).update(
            status=ImportStatus.QUEUED,
            confirmed_by=acting_user if getattr(acting_user, "pk", None) else None,
            attempts=0,  # the write's own attempts (the reads before it counted theirs)
        )
        if not queued:
            job.refresh_from_db()
            raise store.ChatImportError([store.not_confirmable(job)])
        outbox.send_after_response(_tasks().run_chat_import_task, job.pk, channel)
    return None


def _running_is_dead(job_id: int, now: datetime) -> bool:
    if connection.vendor != "postgresql":  # no row lock to ask: a task never outlives its time limit
        cutoff = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
        return ChatImport.objects.filter(pk=job_id, status=ImportStatus.RUNNING, started_at__lt=cutoff).exists()
    with transaction.atomic():
        # Locked: the write transaction is alive (it locks the row first and holds it to the end).
        unlocked = ChatImport.objects.select_for_update(skip_locked=True)
        return unlocked.filter(pk=job_id, status=ImportStatus.RUNNING).exists()


def run_job(job_id: int, *, channel: str | None = None) -> ChatImport | None:
    """The write task's work: claim a queued (or dead 导入中) job and write it in one transaction.
    Returns None when the job was not waiting to be written."""
    now = timezone.now()
    claimable = Q(status=ImportStatus.QUEUED)
    if _running_is_dead(job_id, now):
        claimable |= Q(status=ImportStatus.RUNNING)
    if not ChatImport.objects.filter(claimable, pk=job_id).update(
        status=ImportStatus.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
    ):
        return None
    job = ChatImport.objects.select_related("group", "confirmed_by").get(pk=job_id)
    mine = Q(pk=job.pk, status=ImportStatus.RUNNING, started_at=now)
    if job.attempts > settings.CHAT_IMPORT_MAX_ATTEMPTS:
        return _fail(job, mine, GAVE_UP_MESSAGE)
    try:
        return store.write_chat_import(
            job, acting_user=job.confirmed_by, channel=channel, status=ImportStatus.RUNNING, started_at=now
        )
    except store.ChatImportError as exc:
        if ChatImport.objects.filter(mine).update(
            status=ImportStatus.INVALID, errors=exc.messages, finished_at=timezone.now(), file=""
        ):
            store.drop_files(job)
        return ChatImport.objects.get(pk=job_id)
    except Exception:
        logger.exception("writing chat import %s failed", job_id)
        return _fail(job, mine, FAILED_MESSAGE)


# --- dead workers and abandoned uploads -----------------------------------------------------------


def recover(job: ChatImport, *, now: datetime | None = None) -> bool:
    """Send a dead job's task again (one step back); True if it was. Cheap when the job is alive."""
    now = now or timezone.now()
    tasks = _tasks()
    if job.status == ImportStatus.VALIDATING:
        if ChatImport.objects.filter(_stale_preview(now), pk=job.pk).update(status=ImportStatus.UPLOADED):
            outbox.send(tasks.preview_chat_import_task, job.pk, bool(job.preview.get("detect")))
            return True
    elif job.status == ImportStatus.RUNNING and _running_is_dead(job.pk, now):
        dead = ChatImport.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, started_at=job.started_at)
        if dead.update(status=ImportStatus.QUEUED):
            outbox.send(tasks.run_chat_import_task, job.pk, None)
            return True
    return False


def recover_chat_imports(*, now: datetime | None = None) -> int:
    """The sweep (beat): dead jobs sent again; uploads nobody confirmed deleted after
    ROSTER_UPLOAD_KEEP_HOURS (bodies are personal data). Returns how many jobs it changed."""
    now = now or timezone.now()
    changed = 0
    for job in ChatImport.objects.filter(status__in=[ImportStatus.VALIDATING, ImportStatus.RUNNING]):
        changed += recover(job, now=now)
    cutoff = now - timedelta(hours=settings.ROSTER_UPLOAD_KEEP_HOURS)
    waiting = [ImportStatus.UPLOADED, ImportStatus.PREVIEWED, ImportStatus.INVALID]
    for job in ChatImport.objects.filter(status__in=waiting, created_at__lt=cutoff):
        if ChatImport.objects.filter(pk=job.pk, status=job.status).update(
            status=ImportStatus.CANCELLED, errors=[str(EXPIRED_MESSAGE)], finished_at=now, file=""
        ):
            store.drop_files(job)
            changed += 1
    return changed
