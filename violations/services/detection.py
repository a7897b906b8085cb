"""Chat detection as a service: run the detectors over a window, after an import, or nightly over
the messages imported since the last complete nightly pass. Thin callers: the command, the tasks.

Every run is a ``DetectionRun`` row (window, counts per detector, status, errors); the suspicions it
makes are audited by the runner (one summary entry per batch). Runs are idempotent (see
``violations.detection.runner``): a rerun, an overlapping window or a killed run's redelivery adds
only what is missing.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Max, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import ChatGroup, ChatImport, ChatMessage
from portal.audit import audit_context
from portal.choices import Channel

from ..detection import runner
from ..detection.base import Detector, Window, all_detectors
from ..models import DetectionRun, RunStatus

GROUPS_PER_CHUNK = 200
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


def _chunks(ids: list[int] | None) -> list[tuple[int, ...] | None]:
    if ids is None:
        ids = list(ChatMessage.objects.order_by("group_id").values_list("group_id", flat=True).distinct())
    return [tuple(ids[i : i + GROUPS_PER_CHUNK]) for i in range(0, len(ids), GROUPS_PER_CHUNK)]


def _run(since, until, ids, *, acting_user, trigger, detectors=None, windows=None, now=None) -> DetectionRun:
    now = now or timezone.now()
    run = DetectionRun.objects.create(
        since=since,
        until=until,
        group_ids=ids,
        trigger=trigger,
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    if windows is None:
        windows = [Window(since=since, until=until, now=now, group_ids=chunk) for chunk in _chunks(ids)]
    with audit_context(acting_user, Channel.DETECTION):
        return runner.run(windows, run, detectors=detectors)


def detect_import(job_id: int) -> DetectionRun | None:
    """After a chat import: the imported range of its group (None if the job wrote nothing)."""
    job = ChatImport.objects.filter(pk=job_id).first()
    if job is None or job.first_sent_at is None or job.last_sent_at is None:
        return None
    until = job.last_sent_at + datetime.timedelta(microseconds=1)
    return _run(job.first_sent_at, until, [job.group_id], acting_user=None, trigger="import")


def detect_new_messages(*, now: datetime.datetime | None = None) -> DetectionRun:
    """Nightly: the messages imported since the last complete nightly pass started, per chunk of
    groups from the earliest such message of the chunk. A pass killed half-way stays 运行中 and the
    next one starts from the pass before it (the runs are idempotent, so nothing doubles)."""
    now = now or timezone.now()
    last = DetectionRun.objects.filter(trigger=NIGHTLY, status=RunStatus.DONE).aggregate(at=Max("started_at"))["at"]
    fresh = ChatMessage.objects.order_by()
    if last is not None:
        fresh = fresh.filter(imported_at__gte=last)
    earliest = dict(fresh.values("group_id").annotate(first=Min("sent_at")).values_list("group_id", "first"))
    ids = sorted(earliest)
    windows = [
        Window(since=min(earliest[g] for g in chunk), until=None, now=now, group_ids=chunk)
        for chunk in _chunks(ids)
        if chunk
    ]
    since = min(earliest.values()) if earliest else now
    return _run(since, None, ids, acting_user=None, trigger=NIGHTLY, windows=windows, now=now)


def detect_pending_deadlines(*, now: datetime.datetime | None = None) -> DetectionRun | None:
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
    return _run(since, now, ids, acting_user=None, trigger=DEADLINES, detectors=detectors, now=now)
