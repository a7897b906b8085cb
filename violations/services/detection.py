"""Chat detection as a service: run the detectors over a window, after an import, or nightly over
the messages imported since the last complete nightly pass. Thin callers: the command, the tasks.

Every run is a ``DetectionRun`` row (window, counts per detector, status, errors), planned as
``DetectionChunk`` rows of ``GROUPS_PER_CHUNK`` groups each. ``run_chunk`` runs one chunk; the
command and an import's detection run their chunks in turn in this process (``detect_chat``,
``detect_import``), the nightly task sends one Celery task per chunk (``plan_new_messages``,
``plan_pending_deadlines``), so the month spreads over every worker. The last chunk to end sums the
run's counts and sets its status (``finish_chunk``, under the run's row lock). The suspicions a run
makes are audited by the runner (one summary entry per batch).

Runs are idempotent (see ``violations.detection.runner``): a rerun, an overlapping window, two chunks
storing at once or a killed chunk's redelivery adds only what is missing. A chunk that has ended is
not run again; one left 运行中 by a killed worker is run again by its redelivered task.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import ChatGroup, ChatImport, ChatMessage
from portal.audit import audit_context
from portal.choices import Channel
from portal.postgres import jit_off

from ..detection import runner
from ..detection.base import Detector, Window, all_detectors
from ..models import ChunkStatus, DetectionChunk, DetectionRun, RunStatus

logger = logging.getLogger(__name__)
GROUPS_PER_CHUNK = settings.DETECTION_GROUPS_PER_CHUNK
NIGHTLY = "nightly"
DEADLINES = "deadlines"
# The detectors whose hit depends on a deadline passing after the message (R01, R03), and how far back
# the nightly pass looks for their messages: 14 days span the Spring Festival's days off and weekends.
DEADLINE_DETECTORS = ("directive_unanswered", "ack_missing")
DEADLINE_LOOKBACK = datetime.timedelta(days=14)


def detect_chat(
    *,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    group_ids: Iterable[int] | None = None,
    acting_user=None,
    trigger: str = "command",
    detectors: list[Detector] | None = None,
) -> DetectionRun:
    """Run every detector over ``[since, until)`` of ``group_ids`` (None: all groups), in chunks of
    ``GROUPS_PER_CHUNK`` groups. Raises ValidationError for a reversed window or unknown groups."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and timezone.is_naive(value):
            raise ValidationError({name: _("%(name)s: 时间必须带时区。") % {"name": name}})
    if since is not None and until is not None and since >= until:
        raise ValidationError({"until": _("--until 必须晚于 --since。")})
    ids = None if group_ids is None else sorted(set(group_ids))
    if ids is not None:
        missing = set(ids) - set(ChatGroup.objects.filter(pk__in=ids).values_list("pk", flat=True))
        if missing:
            raise ValidationError(
                {"group": _("没有这些工作群:%(ids)s") % {"ids": ", ".join(map(str, sorted(missing)))}}
            )
    return _run(since, until, ids, acting_user=acting_user, trigger=trigger, detectors=detectors)


def _chunks(ids: list[int] | None) -> list[tuple[int, ...]]:
    if ids is None:
        ids = list(ChatMessage.objects.order_by("group_id").values_list("group_id", flat=True).distinct())
    return [tuple(ids[i : i + GROUPS_PER_CHUNK]) for i in range(0, len(ids), GROUPS_PER_CHUNK)]


def _run(since, until, ids, *, acting_user, trigger, detectors=None, windows=None, now=None) -> DetectionRun:
    """Plan the run and run its chunks in turn, here; the run as it ended."""
    run = _plan(since, until, ids, acting_user=acting_user, trigger=trigger, detectors=detectors,
                windows=windows, now=now)  # fmt: skip
    run_planned(run, detectors=detectors)
    run.refresh_from_db()
    return run


@transaction.atomic
def _plan(since, until, ids, *, acting_user, trigger, detectors=None, windows=None, now=None) -> DetectionRun:
    """A run and its chunks (``windows``: (since, group ids) per chunk; default ``since`` for each
    chunk of ``ids``). A run with no chunk ends at once."""
    now = now or timezone.now()
    run = DetectionRun.objects.create(
        since=since,
        until=until,
        group_ids=ids,
        trigger=trigger,
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
        detectors=[d.name for d in detectors] if detectors is not None else [],
        as_of=now,
    )
    if windows is None:
        windows = [(since, chunk) for chunk in _chunks(ids)]
    DetectionChunk.objects.bulk_create(
        DetectionChunk(run=run, index=i, since=start, group_ids=list(chunk)) for i, (start, chunk) in enumerate(windows)
    )
    if not windows:
        run.status, run.finished_at = RunStatus.DONE, timezone.now()
        run.save(update_fields=["status", "finished_at"])
    return run


def run_planned(run: DetectionRun, *, detectors: list[Detector] | None = None) -> None:
    """Run every chunk of ``run`` not ended yet, in turn, in this process (``detectors``: the run's
    own, given as objects; default: those it names)."""
    for chunk_id in pending_chunks(run):
        run_chunk(chunk_id, detectors=detectors)


def pending_chunks(run: DetectionRun) -> list[int]:
    """The ids of ``run``'s chunks not ended yet, in order."""
    open_ = [ChunkStatus.PENDING, ChunkStatus.RUNNING]
    return list(run.chunks.filter(status__in=open_).order_by("index").values_list("pk", flat=True))


def _detectors(run: DetectionRun) -> list[Detector]:
    chosen = all_detectors()
    return [d for d in chosen if d.name in run.detectors] if run.detectors else chosen


def run_chunk(chunk_id: int, *, detectors: list[Detector] | None = None, worker: str = "") -> DetectionChunk | None:
    """Run one chunk: the run's detectors over its groups, from its ``since`` to the run's ``until``,
    judged at the run's ``as_of``. A chunk that has ended is left as it is (a second delivery); one
    left 运行中 (its worker was killed) runs again, keeping what it stored. ``worker``: the Celery
    worker running it, recorded for the operator. None: no such chunk."""
    with transaction.atomic():
        chunk = DetectionChunk.objects.select_for_update().filter(pk=chunk_id).first()
        if chunk is None or chunk.status in (ChunkStatus.DONE, ChunkStatus.FAILED):
            return chunk
        chunk.status, chunk.started_at, chunk.attempts = ChunkStatus.RUNNING, timezone.now(), chunk.attempts + 1
        chunk.worker = worker[:200]
        chunk.save(update_fields=["status", "started_at", "attempts", "worker"])
    run = DetectionRun.objects.select_related("created_by").get(pk=chunk.run_id)
    window = Window(
        since=chunk.since, until=run.until, now=run.as_of or run.started_at, group_ids=tuple(chunk.group_ids)
    )
    progress = runner.progress_for(run, target=chunk, counts=chunk.counts)
    chosen = detectors if detectors is not None else _detectors(run)
    with audit_context(run.created_by, Channel.DETECTION), jit_off():  # JIT: ~60 ms a batch query, nothing saved
        errors = runner.detect([window], progress, chosen)
        if any(d.name in DEADLINE_DETECTORS for d in chosen):
            try:
                withdraw_answered_later(window, run)
            except Exception as exc:  # recorded on the run, like a detector's failure
                logger.exception("withdrawing answered suspicions failed")
                errors.append(f"withdraw: {exc}")
    return finish_chunk(chunk, {name: c.as_dict() for name, c in progress.counts.items()}, errors)


@transaction.atomic
def finish_chunk(chunk: DetectionChunk, counts: dict, errors: list[str]) -> DetectionChunk:
    """End a chunk; the run's counts become the sum of its chunks', and when this was its last open
    chunk, the run ends (失败 when any chunk had errors). Under the run's row lock, so two chunks
    ending at once do not both miss being the last."""
    run = DetectionRun.objects.select_for_update().get(pk=chunk.run_id)
    chunk.status = ChunkStatus.FAILED if errors else ChunkStatus.DONE
    chunk.counts, chunk.errors, chunk.finished_at = counts, errors, timezone.now()
    chunk.save(update_fields=["status", "counts", "errors", "finished_at"])
    totals: dict[str, dict[str, int]] = {}
    all_errors: list[str] = []
    ended = True
    for status, chunk_counts, chunk_errors in run.chunks.order_by("index").values_list("status", "counts", "errors"):
        ended &= status in (ChunkStatus.DONE, ChunkStatus.FAILED)
        all_errors += chunk_errors or []
        for name, c in (chunk_counts or {}).items():
            total = totals.setdefault(name, {})
            for key, value in c.items():
                total[key] = total.get(key, 0) + int(value)
    run.counts = totals
    fields = ["counts"]
    if ended:
        run.status = RunStatus.FAILED if all_errors else RunStatus.DONE
        run.errors, run.finished_at = all_errors, timezone.now()
        fields += ["status", "errors", "finished_at"]
    run.save(update_fields=fields)
    return chunk


def withdraw_answered_later(window: Window, run: DetectionRun) -> int:
    """The 待核实 R01/R03 suspicions of the window's groups, made by an earlier run for a message of
    the ``DEADLINE_LOOKBACK`` before the window up to its end, that the messages stored now show
    answered in time (an export that ended before the deadline, then the next one with the answer):
    dismissed with that reason, in one audit entry. A suspicion HR or the group admin has decided
    stays as decided; the detection's key stays, so the hit is not made again."""
    from ..choices import ViolationStatus
    from ..detection import acknowledgements
    from ..detection.responsiveness import answered_in_time
    from ..models import Detection, DirectiveSettings, Violation

    qs = Detection.objects.filter(detector__in=DEADLINE_DETECTORS, violation__status=ViolationStatus.SUSPECTED).exclude(
        run=run
    )
    if window.group_ids is not None:
        qs = qs.filter(group_id__in=window.group_ids)
    if window.since is not None:
        qs = qs.filter(occurred_at__gte=window.since - DEADLINE_LOOKBACK)
    if window.until is not None:
        qs = qs.filter(occurred_at__lt=window.until)
    pending = list(qs.only("pk", "detector", "group_id", "employee_id", "sender_platform_id", "occurred_at",
                           "details", "violation_id"))  # fmt: skip
    if not pending:
        return 0
    answers_for = {
        "directive_unanswered": lambda replies: replies,
        "ack_missing": acknowledgements.acknowledgements(DirectiveSettings.load()),
    }
    answered = answered_in_time(pending, answers_for)
    ids = [d.violation_id for d in pending if d.pk in answered]
    if not ids:
        return 0
    reason = _("后续导入的聊天记录显示其已在时限内回复,系统撤销此待核实记录")
    with transaction.atomic():
        done = Violation.objects.filter(pk__in=ids, status=ViolationStatus.SUSPECTED).update(
            status=ViolationStatus.DISMISSED, dismissed_reason=reason, updated_at=timezone.now()
        )
        from portal.audit import log_summary

        log_summary(
            Violation,
            label=str(_("系统检测:撤销已按时回复的待核实记录")),
            changes={"status": [str(_("待核实")), str(_("不予处理"))]},
            data={"run": run.pk, "violations": ids, "reason": str(reason)},
        )
    return done


def detect_import(job_id: int) -> DetectionRun | None:
    """After a chat import: the imported range of its group (None if the job wrote nothing)."""
    job = ChatImport.objects.filter(pk=job_id).first()
    if job is None or job.first_sent_at is None or job.last_sent_at is None:
        return None
    until = job.last_sent_at + datetime.timedelta(microseconds=1)
    return _run(job.first_sent_at, until, [job.group_id], acting_user=None, trigger="import")


def detect_new_messages(*, now: datetime.datetime | None = None) -> DetectionRun:
    """``plan_new_messages`` and its chunks run here in turn; the run as it ended."""
    run = plan_new_messages(now=now)
    run_planned(run)
    run.refresh_from_db()
    return run


def plan_new_messages(*, now: datetime.datetime | None = None) -> DetectionRun:
    """Nightly: the messages imported since the last complete nightly pass started, per chunk of
    groups from the earliest such message of the chunk (planned: ``run_chunk`` runs each). A pass
    killed half-way stays 运行中 and the next one starts from the pass before it (the runs are
    idempotent, so nothing doubles)."""
    now = now or timezone.now()
    last = DetectionRun.objects.filter(trigger=NIGHTLY, status=RunStatus.DONE).aggregate(at=Max("started_at"))["at"]
    fresh = ChatMessage.objects.order_by()
    if last is not None:
        fresh = fresh.filter(imported_at__gte=last)
    earliest = dict(fresh.values("group_id").annotate(first=Min("sent_at")).values_list("group_id", "first"))
    ids = sorted(earliest)
    windows = [(min(earliest[g] for g in chunk), chunk) for chunk in _chunks(ids)]
    since = min(earliest.values()) if earliest else now
    return _plan(since, None, ids, acting_user=None, trigger=NIGHTLY, windows=windows, now=now)


def detect_pending_deadlines(*, now: datetime.datetime | None = None) -> DetectionRun | None:
    """``plan_pending_deadlines`` and its chunks run here in turn; the run as it ended (None: no run)."""
    run = plan_pending_deadlines(now=now)
    if run is not None:
        run_planned(run)
        run.refresh_from_db()
    return run


def plan_pending_deadlines(*, now: datetime.datetime | None = None) -> DetectionRun | None:
    """Nightly, after the new messages: the rules with a deadline (R01 directives, R03 notices) again
    over the last ``DEADLINE_LOOKBACK`` of every group that has messages in it. A directive imported
    before its deadline gives no hit at import time (not due yet) and may get no new message later, so
    the pass over new messages alone would never report it. The lookback covers the longest run of
    days off (the Spring Festival week and its weekends); hits already stored are not stored again.
    None when no group has messages in the lookback."""
    now = now or timezone.now()
    since = now - DEADLINE_LOOKBACK
    detectors = [d for d in all_detectors() if d.name in DEADLINE_DETECTORS]
    ids = sorted(
        ChatMessage.objects.filter(sent_at__gte=since, sent_at__lt=now)
        .order_by("group_id")
        .values_list("group_id", flat=True)
        .distinct()
    )
    if not ids or not detectors:
        return None
    return _plan(since, now, ids, acting_user=None, trigger=DEADLINES, detectors=detectors, now=now)


EXCERPT_PURGE_BATCH = 1000


def purge_undecided_excerpts(
    cutoff: datetime.datetime, *, now: datetime.datetime | None = None, acting_user=None
) -> int:
    """The message texts in the excerpts of detections before ``cutoff`` that make no case: an
    unmatched sender's (no violation) and a dismissed suspicion's. Their excerpts keep each line's
    time, sender and kind, the text goes, as the messages' own bodies went at the retention purge; a
    case (pending, confirmed, sanctioned, appealed, overturned) keeps its evidence. The key stays, so
    a dismissed suspicion stays dismissed. Returns how many detections; one audit summary."""
    from django.db.models import Q

    from ..choices import ViolationStatus
    from ..models import Detection

    now = now or timezone.now()
    due = Detection.objects.filter(occurred_at__lt=cutoff, excerpt_purged_at__isnull=True).filter(
        Q(violation__isnull=True) | Q(violation__status=ViolationStatus.DISMISSED)
    )
    gone = str(_("内容已按保留期限清除"))
    total = 0
    while True:
        with transaction.atomic():
            batch = list(due.order_by("pk").only("pk", "excerpt")[:EXCERPT_PURGE_BATCH])
            if not batch:
                break
            for detection in batch:
                detection.excerpt = [{**line, "text": "", "kind_label": gone} for line in detection.excerpt or []]
                detection.excerpt_purged_at = now
            Detection.objects.bulk_update(batch, ["excerpt", "excerpt_purged_at"])
            total += len(batch)
    if total:
        from portal.audit import log_summary

        log_summary(
            Detection,
            label="检测摘录内容清除",
            changes={"purged": [str(total), cutoff.isoformat()]},
            data={"purged": total, "cutoff": cutoff.isoformat()},
            actor=acting_user,
        )
    return total


def on_chat_bodies_purged(sender, *, cutoff: datetime.datetime, now: datetime.datetime, acting_user=None, **kwargs):
    """``groups.signals.chat_bodies_purged``: the excerpts that make no case follow the messages."""
    purge_undecided_excerpts(cutoff, now=now, acting_user=acting_user)
