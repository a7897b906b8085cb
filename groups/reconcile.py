"""Roster reconciliation (每日检查群成员): compare every group's roster with the HR roster, set-based.

``reconcile_all()`` runs a fixed number of queries whatever the number of groups: one scan of the
open memberships classifies departed members, outsiders and nickname candidates, one query per
group-level kind finds the rest, one query loads the live findings, then the
differences are written with a handful of bulk statements:

- new sightings are inserted in bulk (``ignore_conflicts`` on the partial unique index);
- open findings whose condition no longer holds are resolved (``resolved_by`` empty = automatic);
- open findings still present are left alone: the run itself is recorded (``ReconcileRun``), and an
  open finding's "last seen" is the latest run (``RosterFinding.objects.with_last_seen()``), which
  spares rewriting every open row every day; waived findings stay waived (their time is updated).

**Incremental runs.** The member scan (every open membership, joined to its employee) is the cost
that grows with the company. ``reconcile_all()`` by default only rescans the groups that may have
changed since the last run: those marked ``ChatGroup.roster_changed_at`` (the group saved, its
roster imported or a membership saved) and those with an open membership of an employee marked
``Employee.employment_changed_at`` (saved, imported, anonymised, department renamed). Group-level
kinds (departed owner, overdue project, unapproved group) are a few thousand rows and always
recomputed in full. The marks are claimed at the start of the run, in its transaction: a write
that commits after the claim marks again (writers mark *after* writing, in their transaction), so
the next run checks it; a rolled-back run leaves the marks. ``full=True`` (the first run, the
weekly run, ``manage.py reconcile_groups --full``, a direct call) rescans everything and clears
every mark; the daily task and the command pass ``full=False``.

``escalate_overdue()`` claims departed-member findings open too long and notifies department heads.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, Q, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat, Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import audit_context, log_summary
from portal.staging import copy_staged

from . import nicknames
from .choices import EmployeeStatus, FindingKind, FindingStatus, GroupKind, GroupStatus
from .models import ChatGroup, Membership, ReconcileRun, RosterFinding, RosterSettings
from .signals import send_rosters_changed
from .tree import DeptTree

logger = logging.getLogger(__name__)

Key = tuple[str, int, int | None, int | None]  # kind, group_id, membership_id, employee_id
CHUNK = 5000
ACTIVE = EmployeeStatus.ACTIVE


class Sighting(NamedTuple):
    """One condition seen now in one group (not yet a stored finding). A NamedTuple: a run builds
    ~100,000 of them, and tuples are several times cheaper to create than dataclass instances."""

    kind: str
    group_id: int
    membership_id: int | None = None
    employee_id: int | None = None
    detail: str = ""
    successor_id: int | None = None

    @property
    def key(self) -> Key:
        return (self.kind, self.group_id, self.membership_id, self.employee_id)


@dataclass
class ReconcileSummary:
    """What one reconciliation run saw and wrote."""

    seen: Counter = field(default_factory=Counter)
    created: Counter = field(default_factory=Counter)
    resolved: Counter = field(default_factory=Counter)
    still_open: int = 0
    still_waived: int = 0
    scope: str = "full"  # or "<n> groups": an incremental run's rescanned groups (counts cover those)

    def as_dict(self) -> dict:
        return {
            "scope": self.scope,
            "seen": dict(self.seen),
            "created": dict(self.created),
            "resolved": dict(self.resolved),
            "still_open": self.still_open,
            "still_waived": self.still_waived,
        }


# --- the current set: one query per source ----------------------------------------------------------------


def expected_nickname(convention: str, tree: DeptTree, dept_id: int, name: str, title: str, employee_no: str) -> str:
    return nicknames.render(convention, name=name, title=title, employee_no=employee_no, **tree.parts(dept_id))


def _member_conditions() -> tuple[Q, Q, Q]:
    """(outsider, departed, nickname candidate) as conditions on an open membership.

    Nicknames matching the default convention exactly are cleared in SQL; other candidates (other
    conventions, near misses such as full-width dashes) are checked in Python.
    """
    default_ok = Q(group__nickname_convention=nicknames.DEFAULT_CONVENTION) & Q(
        nickname=Concat("employee__department__name", Value("-"), "employee__name")
    )
    outsider = Q(employee__isnull=True, group__admits_outsiders=False)
    departed = Q(employee__status=EmployeeStatus.DEPARTED)
    # A group nickname the member never set (WeCom: empty group_nickname, the group shows their
    # name) is "not set", not a mismatch: the check applies to nicknames people chose.
    nickname = Q(employee__status=ACTIVE, nickname_set=True) & ~default_ok
    return outsider, departed, nickname


MEMBER_KINDS = (FindingKind.OUTSIDER, FindingKind.DEPARTED_MEMBER, FindingKind.BAD_NICKNAME)


def _member_rows_sql(groups: list[int] | None = None) -> tuple[str, tuple]:
    """One scan of the open memberships of active groups, classifying three finding kinds.

    The WHERE is a plain disjunction of the three conditions (a CASE … IS NOT NULL filter hides
    them from the planner); the CASE only labels the rows that pass.
    """
    outsider, departed, nickname = _member_conditions()
    flag = Case(
        When(outsider, then=Value(FindingKind.OUTSIDER.value)),
        When(departed, then=Value(FindingKind.DEPARTED_MEMBER.value)),
        default=Value(FindingKind.BAD_NICKNAME.value),
        output_field=CharField(),
    )
    scanned = Membership.objects.open()
    if groups is not None:
        scanned = scanned.filter(group_id__in=_id_set(groups))
    rows = (
        scanned.filter(group__status=GroupStatus.ACTIVE)
        .filter(outsider | departed | nickname)
        .annotate(flag=flag)
        .order_by()
        .values_list(
            "flag", "pk", "group_id", "employee_id", "nickname", "group__nickname_convention",
            "employee__department_id", "employee__name", "employee__title", "employee__employee_no",
        )
    )  # fmt: skip
    return rows.query.sql_with_params()


def _allow_parallel_scan() -> None:
    """PostgreSQL: let the planner use parallel workers for the roster scan (this transaction only).

    It cannot estimate how few rows the filter keeps, so at default costs shipping "a million" rows
    from the workers looks too dear and it stays serial, though the parallel plan is faster (see
    bench/README.md, "measurements behind the code"). Parallel plans also need a plain (not server-side) cursor:
    the result is the findings, a small fraction of the memberships.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL parallel_setup_cost = 10")
            cursor.execute("SET LOCAL parallel_tuple_cost = 0.001")


def member_findings(tree: DeptTree, groups: list[int] | None = None) -> Iterator[Sighting]:
    """Departed employees still in a group (the most urgent kind), outsiders in groups that admit
    employees only, and nicknames that break the group's convention (with the expected nickname).

    One query over the open memberships of active groups (see ``_member_rows_sql``).
    """
    departed, bad = FindingKind.DEPARTED_MEMBER.value, FindingKind.BAD_NICKNAME.value
    normalize = nicknames.normalize
    with connection.cursor() as cursor:
        cursor.execute(*_member_rows_sql(groups))
        while batch := cursor.fetchmany(CHUNK):
            for flag, pk, group_id, emp_id, nickname, convention, dept_id, name, title, emp_no in batch:
                if flag != bad:
                    yield Sighting(flag, group_id, pk, emp_id, "" if flag == departed else nickname[:300])
                    continue
                expected = expected_nickname(convention, tree, dept_id, name, title, emp_no)
                if normalize(nickname) != normalize(expected):
                    yield Sighting(bad, group_id, pk, emp_id, expected[:300])


def departed_owners(tree: DeptTree) -> Iterator[Sighting]:
    """Groups whose owner has departed, with a suggested successor (an active admin, else the head)."""
    groups = ChatGroup.objects.active().filter(owner__status=EmployeeStatus.DEPARTED).order_by()
    rows = list(groups.values_list("pk", "owner_id", "department_id"))
    admins: dict[int, tuple[int, str]] = {}
    through = ChatGroup.admins.through.objects.filter(
        chatgroup__status=GroupStatus.ACTIVE, chatgroup__owner__status=EmployeeStatus.DEPARTED, employee__status=ACTIVE
    )
    for group_id, emp_id, name in through.order_by("-employee_id").values_list(
        "chatgroup_id", "employee_id", "employee__name"
    ):
        admins[group_id] = (emp_id, name)  # ordered so that the lowest employee id wins: stable
    for group_id, owner_id, dept_id in rows:
        successor = admins.get(group_id)
        if successor is None:
            head = tree.head_for(dept_id, exclude=owner_id)
            successor = (head.head_id, head.head_name) if head else (None, "")
        yield Sighting(FindingKind.OWNER_DEPARTED, group_id, None, owner_id, successor[1], successor[0])


def overdue_projects(today) -> Iterator[Sighting]:
    """Active project groups past their end date (项目结束后应解散)."""
    rows = ChatGroup.objects.active().filter(kind=GroupKind.PROJECT, end_date__lt=today).order_by()
    for pk, end_date in rows.values_list("pk", "end_date"):
        yield Sighting(FindingKind.PROJECT_OVERDUE, pk, detail=end_date.isoformat())


def unapproved_groups() -> Iterator[Sighting]:
    """Active groups without an approval on record (建群须经领导批准并报办公室备案)."""
    for pk in ChatGroup.objects.active().filter(approved_at__isnull=True).order_by().values_list("pk", flat=True):
        yield Sighting(FindingKind.UNAPPROVED_GROUP, pk)


def current_sightings(now: datetime, groups: list[int] | None = None) -> dict[Key, Sighting]:
    """Every condition that holds now, keyed like the findings' unique index (member kinds only in
    ``groups`` when given)."""
    tree = DeptTree()
    today = timezone.localdate(now)
    from .lifecycle_checks import lifecycle_sightings, supersede

    sources: Iterable[Iterable[Sighting]] = (
        member_findings(tree, groups),
        departed_owners(tree),
        overdue_projects(today),
        unapproved_groups(),
        lifecycle_sightings(Sighting),  # still present after removal, rejoined while barred, moved department
    )
    return supersede({s.key: s for source in sources for s in source})


# --- writing the differences -------------------------------------------------------------------


def _id_set(ids: list[int]) -> RawSQL:
    """A subquery yielding ``ids`` from one JSON parameter: one statement however many ids there are."""
    payload = json.dumps(ids)
    if connection.vendor == "postgresql":
        return RawSQL("SELECT jsonb_array_elements_text(%s::jsonb)::bigint", (payload,))
    return RawSQL("SELECT value FROM json_each(%s)", (payload,))


_INSERT_COLUMNS = (
    "kind, group_id, membership_id, employee_id, detail, suggested_successor_id,"
    " first_seen_at, last_seen_at, status, waive_reason"
)
_STAGE = "qungui_finding_stage"
# a Sighting's fields, in order, as the findings table names them
_STAGE_COLUMNS = ("kind", "group_id", "membership_id", "employee_id", "detail", "suggested_successor_id")


def _create_new(new: list[Sighting], now: datetime) -> None:
    """Insert the new findings in one statement; ON CONFLICT DO NOTHING skips any row that the
    partial unique index says exists already (a concurrent run, a redelivered task).

    PostgreSQL: the rows are COPYed into a temporary table first (about twice as fast as feeding the
    INSERT from one JSON parameter: bench/README.md); SQLite reads that JSON.
    """
    if not new:
        return
    table = RosterFinding._meta.db_table
    stamp = connection.ops.adapt_datetimefield_value(now)
    insert, constants = f"INSERT INTO {table} ({_INSERT_COLUMNS}) SELECT ", "%s, %s, 'open', ''"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with copy_staged(cursor, _STAGE, like=table, columns=_STAGE_COLUMNS, rows=new) as stage:
                select = f"{', '.join(_STAGE_COLUMNS)}, {constants} FROM {stage}"
                cursor.execute(f"{insert}{select} ON CONFLICT DO NOTHING", [stamp, stamp])
            return
        payload = json.dumps([s._asdict() for s in new], ensure_ascii=False)
        select = (
            "json_extract(value, '$.kind'), json_extract(value, '$.group_id'),"
            " json_extract(value, '$.membership_id'), json_extract(value, '$.employee_id'),"
            f" json_extract(value, '$.detail'), json_extract(value, '$.successor_id'), {constants}"
            " FROM json_each(%s) WHERE true"  # WHERE: SQLite's parser needs it before ON CONFLICT
        )
        cursor.execute(f"{insert}{select} ON CONFLICT DO NOTHING", [stamp, stamp, payload])


def _load_live(groups: list[int] | None = None) -> dict[Key, tuple[int, str, str, int | None]]:
    live = RosterFinding.objects.live()
    if groups is not None:  # member kinds of the rescanned groups; group-level kinds all
        live = live.filter(~Q(kind__in=MEMBER_KINDS) | Q(group_id__in=_id_set(groups)))
    rows = live.order_by().values_list(
        "pk", "kind", "group_id", "membership_id", "employee_id", "status", "detail", "suggested_successor_id"
    )
    return {(kind, g, m, e): (pk, status, detail, succ) for pk, kind, g, m, e, status, detail, succ in rows}


def _resolve_gone(gone: list[int], now: datetime) -> None:
    """Resolve open findings this run no longer sees; they were last seen by the previous run."""
    if gone:
        previous = ReconcileRun.latest_at()
        seen = Greatest("last_seen_at", Value(previous)) if previous else F("last_seen_at")
        RosterFinding.objects.filter(pk__in=_id_set(gone), status=FindingStatus.OPEN).update(
            status=FindingStatus.RESOLVED, resolved_at=now, resolved_by=None, last_seen_at=seen
        )


def _refresh_details(live: dict, current: dict[Key, Sighting]) -> None:
    """The expected value may change (an employee moved department): rare, so row-wise bulk_update."""
    changed = [
        RosterFinding(pk=pk, detail=current[key].detail, suggested_successor_id=current[key].successor_id)
        for key, (pk, _status, detail, succ) in live.items()
        if key in current and (detail, succ) != (current[key].detail, current[key].successor_id)
    ]
    if changed:
        RosterFinding.objects.bulk_update(changed, ["detail", "suggested_successor_id"], batch_size=1000)


def _audit(summary: ReconcileSummary) -> None:
    """bulk writes bypass auditlog's signals: record one summary entry in the same transaction."""
    log_summary(
        RosterFinding,
        object_pk="reconcile_all",
        label="花名册核查 reconcile_all",
        changes={"reconcile": [None, summary.as_dict()]},
        data=summary.as_dict(),
    )


def _relax_commit() -> None:
    # The run is idempotent and rerun daily: losing its last commit in a database crash costs nothing,
    # so don't wait for the WAL flush (PostgreSQL; this transaction only).
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _claim_changes(*, full: bool) -> list[int] | None:
    """Claim the change marks (module doc); the groups to rescan, or None for all (``full``)."""
    from .models import Employee

    if full:
        ChatGroup.objects.filter(roster_changed_at__isnull=False).update(roster_changed_at=None)
        Employee.objects.filter(employment_changed_at__isnull=False).update(employment_changed_at=None)
        return None
    groups = list(ChatGroup.objects.filter(roster_changed_at__isnull=False).values_list("pk", flat=True))
    people = list(Employee.objects.filter(employment_changed_at__isnull=False).values_list("pk", flat=True))
    if groups:
        ChatGroup.objects.filter(pk__in=_id_set(groups)).update(roster_changed_at=None)
    if people:
        Employee.objects.filter(pk__in=_id_set(people)).update(employment_changed_at=None)
        # after the claim: a membership opened since is read here or marks its group again
        of_people = Membership.objects.open().filter(employee_id__in=_id_set(people)).order_by()
        groups = sorted(set(groups) | set(of_people.values_list("group_id", flat=True).distinct()))
    return groups


def _count_unscanned(groups: list[int], summary: ReconcileSummary, now: datetime) -> None:
    """An incremental run's summary counts what a full run would: the live member findings of the
    groups it did not rescan still hold (nothing they depend on changed); their waived rows get this
    run's time, as a full run gives them."""
    rest = RosterFinding.objects.live().filter(kind__in=MEMBER_KINDS).exclude(group_id__in=_id_set(groups))
    counts = rest.order_by().values("kind", "status").annotate(n=Count("pk")).values_list("kind", "status", "n")
    for kind, status, n in counts:
        summary.seen[kind] += n
        if status == FindingStatus.OPEN:
            summary.still_open += n
        else:
            summary.still_waived += n
    rest.filter(status=FindingStatus.WAIVED).update(last_seen_at=now)


@transaction.atomic
def reconcile_all(*, now: datetime | None = None, full: bool = True) -> ReconcileSummary:
    """Reconcile the active groups against the HR roster; idempotent, set-based (see module doc).

    ``full=False``: incremental (the daily task), unless no run was ever recorded (then full).
    """
    now = now or timezone.now()
    full = full or not ReconcileRun.objects.exists()
    _relax_commit()
    _allow_parallel_scan()
    groups = _claim_changes(full=full)
    current = current_sightings(now, groups)
    live = _load_live(groups)
    summary = ReconcileSummary(seen=Counter(key[0] for key in current))
    summary.scope = "full" if groups is None else f"{len(groups)} groups"
    gone_open = [(key, row[0]) for key, row in live.items() if key not in current and row[1] == FindingStatus.OPEN]
    _resolve_gone([pk for _key, pk in gone_open], now)
    summary.resolved.update(key[0] for key, _pk in gone_open)
    _refresh_details(live, current)
    present_waived = [row[0] for key, row in live.items() if key in current and row[1] == FindingStatus.WAIVED]
    # Open findings still present are not rewritten: their "last seen" is this run (ReconcileRun).
    summary.still_open = sum(1 for key, row in live.items() if key in current and row[1] == FindingStatus.OPEN)
    if present_waived:
        RosterFinding.objects.filter(pk__in=_id_set(present_waived)).update(last_seen_at=now)
    summary.still_waived = len(present_waived)
    if groups is not None:
        _count_unscanned(groups, summary, now)
    new_keys = [key for key in current if key not in live]
    new = [current[key] for key in new_keys]
    _create_new(new, now)
    summary.created.update(s.kind for s in new)
    run = ReconcileRun.objects.create(finished_at=now, summary=summary.as_dict())
    _audit(summary)
    # Findings opened and resolved in bulk: the dashboard's rollups follow. An incremental run names
    # the groups it rescanned or whose findings changed; recounting every group's cells after each
    # run (1M memberships) was most of an unchanged day's run (0.7 s → 9 s after the rollups came).
    if groups is None:
        send_rosters_changed(None)
    else:
        touched = {key[1] for key, _pk in gone_open} | {key[1] for key in new_keys} | set(groups)
        send_rosters_changed(sorted(g for g in touched if g))
    if new:
        from .notices import notify_new_findings

        notify_new_findings(run)  # the groups' owners and admins, once per finding
    return summary


# --- overdue escalation ------------------------------------------------------------------------


def overdue_hours() -> int:
    """HR's deadline for removing a departed member (核查设置), the dashboard's too."""
    return RosterSettings.load().departed_finding_overdue_hours


@transaction.atomic
def escalate_overdue(*, now: datetime | None = None, hours: int | None = None) -> list[int]:
    """Claim departed-member findings open longer than ``hours`` and notify department heads once.

    The claim is a conditional UPDATE (``escalated_at IS NULL``) stamped with this run's time, so two
    concurrent runs never notify twice: each reads back only the rows carrying its own stamp.
    """
    from .notices import notify_overdue_findings

    now = now or timezone.now()
    hours = overdue_hours() if hours is None else hours
    candidates = RosterFinding.objects.open().filter(
        kind=FindingKind.DEPARTED_MEMBER, escalated_at__isnull=True, first_seen_at__lte=now - timedelta(hours=hours)
    )
    if not candidates.update(escalated_at=now):
        return []
    claimed = list(
        RosterFinding.objects.filter(kind=FindingKind.DEPARTED_MEMBER, escalated_at=now).values_list("pk", flat=True)
    )
    notify_overdue_findings(claimed)
    return claimed


# --- what people do with findings (admin bulk actions) ----------------------------------------


def _actionable(finding_ids: Iterable[int], acting_user):
    """Open findings among ``finding_ids`` that ``acting_user`` may see, locked; auditors may not act."""
    from portal.scoping import scope_for

    scope = scope_for(acting_user)
    if scope.is_auditor and not scope.is_hr:
        raise PermissionDenied(_("审计角色只能查看,不能处理核查结果。"))
    return (
        RosterFinding.objects.visible_to(acting_user)
        .filter(pk__in=list(finding_ids), status=FindingStatus.OPEN)
        .select_for_update(of=("self",))
        .order_by("pk")
    )


@transaction.atomic
def mark_removed(finding_ids: Iterable[int], *, acting_user, now: datetime | None = None) -> int:
    """The member was removed from the group: record the membership's ``left_at`` and resolve its findings.

    Applies to findings about a membership (departed member, outsider, nickname); others are ignored.
    Each write goes through ``save()``, so the audit trail names ``acting_user``. Returns the number
    of memberships closed.
    """
    now = now or timezone.now()
    findings = list(_actionable(finding_ids, acting_user).filter(membership__isnull=False))
    membership_ids = {f.membership_id for f in findings}
    with audit_context(acting_user):
        _close_memberships(membership_ids, acting_user, now)
    return len(membership_ids)


def _close_memberships(membership_ids: set[int], acting_user, now: datetime, source: str = "confirmed") -> None:
    from .services import record_reported_removals

    closed = []
    for membership in Membership.objects.select_for_update().filter(pk__in=membership_ids, left_at__isnull=True):
        membership.left_at = max(now, membership.joined_at) if membership.joined_at else now
        membership.save(update_fields=["left_at", "updated_at"])
        closed.append(membership)
    record_reported_removals(closed, acting_user=acting_user, source=source)  # the next snapshot checks them
    # Every open finding of those memberships is settled by the removal, not only the selected ones.
    for finding in RosterFinding.objects.open().filter(membership_id__in=membership_ids):
        _close(finding, FindingStatus.RESOLVED, acting_user, now)


@transaction.atomic
def waive_findings(finding_ids: Iterable[int], *, reason: str, acting_user, now: datetime | None = None) -> int:
    """Waive open findings with a reason (e.g. an approved external consultant); reruns keep them waived."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写豁免原因。")})
    now = now or timezone.now()
    findings = list(_actionable(finding_ids, acting_user))
    with audit_context(acting_user):
        for finding in findings:
            finding.waive_reason = reason
            _close(finding, FindingStatus.WAIVED, acting_user, now)
    return len(findings)


def _close(finding: RosterFinding, status: str, acting_user, now: datetime) -> None:
    if finding.status == FindingStatus.OPEN:  # from now on the stored value is what "last seen" shows
        latest = ReconcileRun.latest_at()
        finding.last_seen_at = max(finding.last_seen_at, latest) if latest else finding.last_seen_at
    finding.status = status
    finding.resolved_at = now
    finding.resolved_by = acting_user
    finding.save(update_fields=["status", "resolved_at", "resolved_by", "waive_reason", "last_seen_at"])
