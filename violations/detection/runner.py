"""From hits to suspicions: run the detectors over a window and store what they find, once.

Per detector, the hits are taken in batches of ``BATCH``; each batch is one transaction:

1. the keys already stored are read (one query) and left out — a rerun costs one lookup per batch;
2. the evidence of the rest is snapshotted with its context (``excerpts``: two range queries);
3. the detections go in with ``bulk_create(ignore_conflicts=True)`` (``ON CONFLICT DO NOTHING`` on
   ``(detector, key)``), and the ones this run wrote are read back;
4. one suspected violation (待核实, channel 系统检测, no recorder) per new detection of a matched
   employee, in bulk, linked back; the message links in bulk; one audit summary entry.

Killed half-way, the batches written stay and the rest is found again by the next run; a dismissed
suspicion stays dismissed because its detection's key is stored. No query per hit.
"""

from __future__ import annotations

import bisect
import datetime
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from auditlog.models import LogEntry
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.choices import MessageKind
from groups.models import ChatMessage
from portal.audit import log_summary
from portal.choices import Channel

from ..choices import ViolationStatus
from ..models import Detection, DetectionRun, Rule, RunStatus, Violation
from .base import Detector, Hit, Window, all_detectors, hits

logger = logging.getLogger(__name__)

BATCH = 1000
CONTEXT = 2  # messages shown before the first and after the last triggering message
CONTEXT_SPAN = datetime.timedelta(minutes=30)  # how far to look for them (bounded: busy groups)
EXCERPT_CHARS = 300
EXCERPT_LINES = 30
RANGES_PER_QUERY = 200


@dataclass
class Counts:
    hits: int = 0
    new: int = 0
    suspected: int = 0
    unmatched: int = 0
    skipped: int = 0  # the rule is missing or switched off in the catalog

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Progress:
    run: DetectionRun
    rules: dict[str, tuple[int, bool]] = field(default_factory=dict)
    counts: dict[str, Counts] = field(default_factory=dict)

    def save(self) -> None:
        self.run.counts = {name: c.as_dict() for name, c in self.counts.items()}
        DetectionRun.objects.filter(pk=self.run.pk).update(counts=self.run.counts)


def _batches(items: Iterable[Hit], size: int) -> Iterator[list[Hit]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def run(windows: Iterable[Window], run: DetectionRun, *, detectors: list[Detector] | None = None) -> DetectionRun:
    """Every detector over each window (a chunk of groups each); the run's counts after each batch,
    its end status and errors. A detector that fails is recorded and the others go on."""
    progress = Progress(run, rules={code: (pk, active) for code, pk, active in Rule.objects.values_list(
        "code", "pk", "is_active")})  # fmt: skip
    errors: list[str] = []
    chosen = detectors if detectors is not None else all_detectors()
    for window in windows:
        for detector in chosen:
            progress.counts.setdefault(detector.name, Counts())
            try:
                for batch in _batches(hits(detector, window), BATCH):
                    store(batch, progress)
                    progress.save()
            except Exception as exc:  # recorded on the run; the other detectors still run
                logger.exception("detector %s failed", detector.name)
                errors.append(f"{detector.name}: {exc}")
    run.status = RunStatus.FAILED if errors else RunStatus.DONE
    run.errors, run.finished_at = errors, timezone.now()
    run.counts = {name: c.as_dict() for name, c in progress.counts.items()}
    run.save(update_fields=["status", "errors", "finished_at", "counts"])
    return run


def _fresh(batch: list[Hit], progress: Progress) -> list[Hit]:
    """The batch's hits not stored yet (once each), of rules the catalog has switched on."""
    by_detector: dict[str, set[str]] = defaultdict(set)
    for hit in batch:
        by_detector[hit.detector].add(hit.key)
    stored = Q(pk__in=[])
    for name, keys in by_detector.items():
        stored |= Q(detector=name, key__in=keys)
    known = set(Detection.objects.filter(stored).values_list("detector", "key"))
    fresh, seen = [], set()
    for hit in batch:
        counts = progress.counts.setdefault(hit.detector, Counts())
        counts.hits += 1
        ident = (hit.detector, hit.key)
        if ident in known or ident in seen:
            continue
        seen.add(ident)
        rule = progress.rules.get(hit.rule_code)
        if rule is None or not rule[1]:
            counts.skipped += 1
            continue
        fresh.append(hit)
    return fresh


@transaction.atomic
def store(batch: list[Hit], progress: Progress) -> list[int]:
    """Store a batch of hits (module doc). Returns the ids of the suspected violations made."""
    fresh = _fresh(batch, progress)
    if not fresh:
        return []
    snapshots = excerpts(fresh)
    rows = [_detection(hit, progress, snapshots.get((hit.detector, hit.key), [])) for hit in fresh]
    new = _insert_detections(rows)
    if new is None:  # the ones this run wrote, read back
        mine = Q(pk__in=[])
        for name in {hit.detector for hit in fresh}:
            mine |= Q(detector=name, key__in=[h.key for h in fresh if h.detector == name])
        written = Detection.objects.filter(mine, run=progress.run, violation__isnull=True).order_by("pk")
        new = list(written.defer("excerpt", "details"))
    for detection in new:
        counts = progress.counts[detection.detector]
        counts.new += 1
        if detection.employee_id is None:
            counts.unmatched += 1
    made = _suspect(new, progress)
    _link_messages(new)
    return made


DETECTION_COLUMNS = (
    "detector", "key", "rule_id", "group_id", "employee_id", "sender_platform_id", "sender_name", "occurred_at",
    "reason", "details", "message_ids", "excerpt", "run_id", "created_at",
)  # fmt: skip
JSON_COLUMNS = {"details", "message_ids", "excerpt"}


def _insert_detections(rows: list[Detection]) -> list[Detection] | None:
    """``bulk_create(ignore_conflicts=True)`` (None: the caller reads back what was written); on
    PostgreSQL one multi-row ``INSERT … VALUES … ON CONFLICT DO NOTHING RETURNING`` instead, which
    gives the rows it wrote (by id): Django's bulk insert there sends each column as one array
    (``UNNEST``), and psycopg escapes every quote of the JSON excerpts inside those arrays in Python,
    about a millisecond per detection; plain parameters are quoted by libpq."""
    if connection.vendor != "postgresql":
        Detection.objects.bulk_create(rows, ignore_conflicts=True)
        return None
    by_key = {}
    for row in rows:
        by_key.setdefault((row.detector, row.key), row)
    written: list[Detection] = []
    now = timezone.now()
    table = connection.ops.quote_name(Detection._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in DETECTION_COLUMNS)
    one = "(" + ", ".join("%s::jsonb" if c in JSON_COLUMNS else "%s" for c in DETECTION_COLUMNS) + ")"
    with connection.cursor() as cur:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            params: list[Any] = []
            for row in chunk:
                row.created_at = now
                for column in DETECTION_COLUMNS:
                    value = getattr(row, column)
                    params.append(json.dumps(value) if column in JSON_COLUMNS else value)
            cur.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "  # noqa: S608  names are ours
                "ON CONFLICT (detector, key) DO NOTHING RETURNING id, detector, key",
                params,
            )
            for pk, detector, key in cur.fetchall():
                row = by_key[(detector, key)]
                row.pk = pk
                row._state.adding, row._state.db = False, connection.alias
                written.append(row)
    written.sort(key=lambda d: d.pk)
    return written


def _detection(hit: Hit, progress: Progress, excerpt: list[dict[str, Any]]) -> Detection:
    name = next((line["sender"] for line in excerpt if line["id"] == hit.message_ids[0]), "")
    return Detection(
        detector=hit.detector,
        key=hit.key[:255],
        rule_id=progress.rules[hit.rule_code][0],
        group_id=hit.group_id,
        employee_id=hit.employee_id,
        sender_platform_id=hit.sender_platform_id[:200],
        sender_name=name[:200],
        occurred_at=hit.occurred_at,
        reason=hit.reason,
        details=hit.details,
        message_ids=list(hit.message_ids),
        excerpt=excerpt,
        run=progress.run,
    )


def _suspect(new: list[Detection], progress: Progress) -> list[int]:
    """One suspected violation per new detection of a matched employee, linked back; audited."""
    matched = [d for d in new if d.employee_id is not None]
    if not matched:
        return []
    now = timezone.now()
    violations = Violation.objects.bulk_create(
        [
            Violation(
                employee_id=d.employee_id,
                group_id=d.group_id,
                rule_id=d.rule_id,
                occurred_at=d.occurred_at,
                description=d.reason,
                recorded_by=None,
                channel=Channel.DETECTION,
                status=ViolationStatus.SUSPECTED,
                created_at=now,
            )
            for d in matched
        ]
    )
    for detection, violation in zip(matched, violations, strict=True):
        detection.violation_id = violation.pk
        progress.counts[detection.detector].suspected += 1
    _set_violations(matched)
    ids = [v.pk for v in violations]
    log_summary(
        Violation,
        label=str(_("系统检测:待核实记录")),
        changes={"detect": [str(_("待核实")), f"violations={len(ids)}"]},
        data={"run": progress.run.pk, "violations": ids, "detections": [d.pk for d in matched]},
        action=LogEntry.Action.CREATE,
    )
    return ids


def _set_violations(matched: list[Detection]) -> None:
    """``bulk_update(["violation"])``; on PostgreSQL one ``UPDATE … FROM (VALUES …)`` per 1,000
    (Django's ``CASE WHEN`` per row costs more to plan than to run)."""
    if connection.vendor != "postgresql":
        Detection.objects.bulk_update(matched, ["violation"], batch_size=500)
        return
    table = connection.ops.quote_name(Detection._meta.db_table)
    with connection.cursor() as cur:
        for start in range(0, len(matched), 1000):
            chunk = matched[start : start + 1000]
            cur.execute(
                f"UPDATE {table} AS d SET violation_id = v.violation FROM (VALUES "  # noqa: S608  names are ours
                + ", ".join(["(%s::bigint, %s::bigint)"] * len(chunk))
                + ") AS v(detection, violation) WHERE d.id = v.detection",
                [x for d in chunk for x in (d.pk, d.violation_id)],
            )


def _link_messages(new: list[Detection]) -> None:
    through = Detection.messages.through
    links = [through(detection_id=d.pk, chatmessage_id=m) for d in new for m in dict.fromkeys(d.message_ids)]
    through.objects.bulk_create(links, ignore_conflicts=True, batch_size=2000)


# --- evidence excerpts ------------------------------------------------------------------------------

EXCERPT_FIELDS = ("pk", "group_id", "sent_at", "sender_name", "sender_platform_id", "kind", "recalled")


def _ranges(fresh: list[Hit], times: dict[int, datetime.datetime]) -> dict[int, list[list[datetime.datetime]]]:
    """Per group, the merged time ranges around the hits' triggering messages."""
    wanted: dict[int, list[list[datetime.datetime]]] = defaultdict(list)
    for hit in fresh:
        at = [times[m] for m in hit.message_ids if m in times] or [hit.occurred_at]
        wanted[hit.group_id].append([min(at) - CONTEXT_SPAN, max(at) + CONTEXT_SPAN])
    merged: dict[int, list[list[datetime.datetime]]] = {}
    for group_id, spans in wanted.items():
        out: list[list[datetime.datetime]] = []
        for start, end in sorted(spans):
            if out and start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        merged[group_id] = out
    return merged


def _around(fresh: list[Hit]) -> dict[int, list[dict[str, Any]]]:
    """The messages around the hits, per group in time order (a few range queries per batch)."""
    ids = {m for hit in fresh for m in hit.message_ids}
    times = dict(ChatMessage.objects.filter(pk__in=ids).values_list("pk", "sent_at"))
    ranges = [(g, s, e) for g, spans in _ranges(fresh, times).items() for s, e in spans]
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if connection.vendor == "postgresql":
        for row in _around_postgresql(ranges):
            found[row["group_id"]].append(row)
        ranges = []
    for start in range(0, len(ranges), RANGES_PER_QUERY):
        where = Q(pk__in=[])
        for group_id, since, until in ranges[start : start + RANGES_PER_QUERY]:
            where |= Q(group_id=group_id, sent_at__gte=since, sent_at__lte=until)
        rows = (
            ChatMessage.objects.filter(where)
            .annotate(snippet=Substr("text", 1, EXCERPT_CHARS + 1), title=Substr("link_title", 1, EXCERPT_CHARS))
            .values(*EXCERPT_FIELDS, "snippet", "title")
        )
        for row in rows.iterator(chunk_size=2000):
            found[row["group_id"]].append(row)
    for rows_ in found.values():
        rows_.sort(key=lambda r: (r["sent_at"], r["pk"]))
    return found


def _around_postgresql(ranges: list[tuple[int, datetime.datetime, datetime.datetime]]) -> list[dict[str, Any]]:
    """``_around``'s ranges in one query: the ranges as three arrays joined to the messages, each
    range one ``(group, sent_at)`` index scan (an OR of hundreds of ranges costs more to build and
    plan than to run)."""
    if not ranges:
        return []
    table = connection.ops.quote_name(ChatMessage._meta.db_table)
    sql = (
        "SELECT m.id, m.group_id, m.sent_at, m.sender_name, m.sender_platform_id, m.kind, m.recalled, "  # noqa: S608
        f"SUBSTRING(m.text, 1, {EXCERPT_CHARS + 1}), SUBSTRING(m.link_title, 1, {EXCERPT_CHARS}) "
        "FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS r(g, since, until) "
        f"JOIN {table} AS m ON m.group_id = r.g AND m.sent_at >= r.since AND m.sent_at <= r.until"
    )
    names = (*EXCERPT_FIELDS, "snippet", "title")
    with connection.cursor() as cur:
        cur.execute(sql, [[g for g, _s, _e in ranges], [s for _g, s, _e in ranges], [e for _g, _s, e in ranges]])
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _line(row: dict[str, Any], kind_labels: dict[str, str]) -> dict[str, Any]:
    """A message as an excerpt line (``trigger`` is set per hit)."""
    text = row["snippet"] or row["title"] or ""
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "…"
    return {
        "id": row["pk"],
        "sender": row["sender_name"] or row["sender_platform_id"],
        "sender_id": row["sender_platform_id"],
        "sent_at": row["sent_at"].isoformat(),
        "local_time": f"{timezone.localtime(row['sent_at']):%Y-%m-%d %H:%M:%S}",  # China time, as shown
        "kind": row["kind"],
        "kind_label": kind_labels.get(row["kind"], row["kind"]),
        "recalled": row["recalled"],
        "text": text,
    }


def excerpts(fresh: list[Hit]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per hit, its triggering messages with ``CONTEXT`` messages before and after, as they read now."""
    around = _around(fresh)
    order = {g: [(r["sent_at"], r["pk"]) for r in rows] for g, rows in around.items()}
    at = {r["pk"]: (r["sent_at"], r["pk"]) for rows in around.values() for r in rows}
    kind_labels = {value: str(label) for value, label in MessageKind.choices}
    lines: dict[int, dict[str, Any]] = {}  # one per message, shared by the hits showing it (a notice's)
    out = {}
    for hit in fresh:
        rows, keys = around.get(hit.group_id, []), order.get(hit.group_id, [])
        found = sorted(at[m] for m in hit.message_ids if m in at)
        if not found:
            out[(hit.detector, hit.key)] = []
            continue
        first, last = bisect.bisect_left(keys, found[0]), bisect.bisect_left(keys, found[-1])
        chosen = rows[max(0, first - CONTEXT) : min(len(rows), last + CONTEXT + 1)]
        if len(chosen) > EXCERPT_LINES:  # a long burst: its start and its end
            half = EXCERPT_LINES // 2
            chosen = chosen[:half] + chosen[-half:]
        triggers = set(hit.message_ids)
        excerpt = []
        for r in chosen:
            line = lines.get(r["pk"]) or lines.setdefault(r["pk"], _line(r, kind_labels))
            excerpt.append({**line, "trigger": r["pk"] in triggers})
        out[(hit.detector, hit.key)] = excerpt
    return out
