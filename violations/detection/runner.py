"""From hits to suspicions: run the detectors over a window and store what they find, once.

Per detector, the hits are taken in batches of ``BATCH``; each batch is one transaction:

1. the keys already stored are read (one query) and left out — a rerun costs one lookup per batch;
2. the evidence of the rest is snapshotted with its context (``excerpts``: on PostgreSQL one query of
   each triggering message's neighbours, on SQLite a few range queries);
3. on PostgreSQL (``_store_copied``) the batch's violations (待核实, channel 系统检测, no recorder)
   and detections are COPYed into their tables with ids drawn first, in a savepoint;
   a key another run stored meanwhile makes the COPY fail and the batch takes the careful path:
4. the detections go in with ``bulk_create(ignore_conflicts=True)`` (``ON CONFLICT DO NOTHING`` on
   ``(detector, key)``), the ones this run wrote are read back, one suspected violation per new
   detection of a matched employee is made in bulk and linked back;
5. one audit summary entry, and the run's (or chunk's) counts, committed with the batch.

Killed half-way, the batches written stay and the rest is found again by the next run; a dismissed
suspicion stays dismissed because its detection's key is stored. No query per hit.
"""

from __future__ import annotations

import bisect
import datetime
import enum
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from auditlog.models import LogEntry
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Q
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.choices import MessageKind
from groups.models import ChatMessage
from portal.audit import log_summary
from portal.choices import Channel

from ..choices import ViolationStatus
from ..models import Detection, DetectionRun, Rule, Violation
from .base import Detector, Hit, Window, hits
from .keywords import shared_scan
from .responsiveness import company_tz

logger = logging.getLogger(__name__)

BATCH = 1000
CONTEXT = 2  # messages shown before the first and after the last triggering message
CONTEXT_SPAN = datetime.timedelta(minutes=30)  # how far to look for them (bounded: busy groups)
EXCERPT_CHARS = 300
EXCERPT_LINES = 30
RANGES_PER_QUERY = 200
KEY_CHARS = Detection._meta.get_field("key").max_length  # a longer key is stored (and looked up) cut to it


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
    """What a run (or one chunk of it) has stored so far; ``save`` writes the counts to ``target``
    (the chunk being run; the run itself when None)."""

    run: DetectionRun
    rules: dict[str, tuple[int, bool]] = field(default_factory=dict)
    counts: dict[str, Counts] = field(default_factory=dict)
    target: models.Model | None = None

    def save(self) -> None:
        row = self.target if self.target is not None else self.run
        row.counts = {name: c.as_dict() for name, c in self.counts.items()}
        type(row)._default_manager.filter(pk=row.pk).update(counts=row.counts)


def _batches(items: Iterable[Hit], size: int) -> Iterator[list[Hit]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def progress_for(run: DetectionRun, *, target: models.Model | None = None, counts: dict | None = None) -> Progress:
    """A run's (or a chunk's) progress, from the counts stored by an earlier attempt: what it stored
    stays counted, the hits seen are counted again (a rerun sees them all again)."""
    rules = {code: (pk, active) for code, pk, active in Rule.objects.values_list("code", "pk", "is_active")}
    carried = {
        name: Counts(**{k: int(v) for k, v in c.items() if k in ("new", "suspected", "unmatched")})
        for name, c in (counts or {}).items()
    }
    return Progress(run, rules=rules, counts=carried, target=target)


def detect(windows: Iterable[Window], progress: Progress, detectors: list[Detector]) -> list[str]:
    """Every detector over each window, storing its hits in batches (the counts saved after each);
    returns the errors. A detector that fails is recorded and the others go on."""
    errors: list[str] = []
    for window in windows:
        with shared_scan():  # the lexicon detectors share one scan of the window
            for detector in detectors:
                progress.counts.setdefault(detector.name, Counts())
                try:
                    for batch in _batches(hits(detector, window), BATCH):
                        store(batch, progress)
                except Exception as exc:  # recorded on the run; the other detectors still run
                    logger.exception("detector %s failed", detector.name)
                    errors.append(f"{detector.name}: {exc}")
    return errors


def _fresh(batch: list[Hit], progress: Progress) -> list[Hit]:
    """The batch's hits not stored yet (once each), of rules the catalog has switched on."""
    known = _stored_keys({(hit.detector, hit.key[:KEY_CHARS]) for hit in batch})
    fresh, seen = [], set()
    for hit in batch:
        counts = progress.counts.setdefault(hit.detector, Counts())
        counts.hits += 1
        ident = (hit.detector, hit.key[:KEY_CHARS])
        if ident in known or ident in seen:
            continue
        seen.add(ident)
        rule = progress.rules.get(hit.rule_code)
        if rule is None or not rule[1]:
            counts.skipped += 1
            continue
        fresh.append(hit)
    return fresh


def _stored_keys(idents: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (detector, key) pairs are stored already. On PostgreSQL one index probe per pair
    (the pairs as ``unnest`` arrays, semi-joined): as ``detector = … AND key IN (…)`` the planner,
    whose statistics lag behind a table that a run fills as it goes, read every stored detection of
    the detector and filtered the keys (75 ms a batch once 100,000 were stored; the probes: 2 ms)."""
    if not idents:
        return set()
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(Detection._meta.db_table)
        detectors, keys = zip(*idents, strict=True)
        with connection.cursor() as cur:
            sql = (
                "SELECT k.detector, k.key FROM unnest(%s::text[], %s::text[]) AS k(detector, key) "  # noqa: S608  names are ours
                f"WHERE EXISTS (SELECT 1 FROM {table} AS d WHERE d.detector = k.detector AND d.key = k.key)"
            )
            cur.execute(sql, [list(detectors), list(keys)])
            return set(cur.fetchall())
    by_detector: dict[str, set[str]] = defaultdict(set)
    for detector, key in idents:
        by_detector[detector].add(key)
    stored = Q(pk__in=[])
    for name, keys_of in by_detector.items():
        stored |= Q(detector=name, key__in=keys_of)
    return set(Detection.objects.filter(stored).values_list("detector", "key"))


@transaction.atomic
def store(batch: list[Hit], progress: Progress) -> list[int]:
    """Store a batch of hits (module doc) and the counts with it, in one transaction: a batch written
    is a batch counted, however the worker dies (and no commit of its own for the counts). Returns
    the ids of the suspected violations made."""
    made = _store(batch, progress)
    progress.save()
    return made


def _store(batch: list[Hit], progress: Progress) -> list[int]:
    fresh = _fresh(batch, progress)
    if not fresh:
        return []
    snapshots = excerpts(fresh)
    values = [_detection(hit, progress, snapshots.get((hit.detector, hit.key), [])) for hit in fresh]
    if connection.vendor == "postgresql":
        _commit_without_waiting()
        try:
            with transaction.atomic(), connection.wrap_database_errors:
                return _store_copied(values, progress)
        except IntegrityError:  # another run stored some of these keys since ``_fresh``: the careful path
            pass  # the ids drawn for the undone COPY went into the copies of the rows, not ``values``
    new = _insert_detections([Detection(**row) for row in values])
    if new is None:  # the ones this run wrote, read back
        mine = Q(pk__in=[])
        for name in {hit.detector for hit in fresh}:
            mine |= Q(detector=name, key__in=[h.key for h in fresh if h.detector == name])
        written = Detection.objects.filter(mine, run=progress.run, violation__isnull=True).order_by("pk")
        new = list(written.defer("excerpt", "details"))
    _count_new(new, progress)
    return _suspect(new, progress)


def _commit_without_waiting() -> None:
    """This batch's commit does not wait for its WAL to reach the disk (``synchronous_commit = off``
    for this transaction only): a server crash can lose the last fraction of a second of batches, and
    they are found again, since a run stores what is not stored yet; the chunk's end (``finish_chunk``),
    a normal commit, flushes every batch before it. Measured on the bench: the commits were 6–8% of a run."""
    with connection.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")


DETECTION_COLUMNS = (
    "detector", "key", "rule_id", "group_id", "employee_id", "sender_platform_id", "sender_name", "occurred_at",
    "reason", "details", "message_ids", "excerpt", "run_id", "created_at",
)  # fmt: skip
JSON_COLUMNS = {"details", "message_ids", "excerpt"}


def _store_copied(values: list[dict[str, Any]], progress: Progress) -> list[int]:
    """PostgreSQL: the batch's violations and detections COPYed straight into their tables, with ids
    drawn from the tables' sequences first, so that each detection carries its violation from the
    start (no read-back, no update). Rows are plain dicts, no model instances (building those was a
    tenth of a run). Raises IntegrityError when a key is stored already (a concurrent run): the
    caller's savepoint undoes the batch and the careful path runs."""
    # copies: the ids drawn here are undone with the batch on a conflict; every row names the same fields
    rows = [dict(row, violation_id=None) for row in values]
    matched = [d for d in rows if d["employee_id"] is not None]
    violations = [_violation(d) for d in matched]
    with connection.cursor() as cur:
        for obj, pk in zip(violations, _next_ids(cur, Violation, len(violations)), strict=True):
            obj["id"] = pk
        for detection, violation in zip(matched, violations, strict=True):
            detection["violation_id"] = violation["id"]
        for obj, pk in zip(rows, _next_ids(cur, Detection, len(rows)), strict=True):
            obj["id"] = pk
        _copy(cur, Violation, violations, **VIOLATION_CONSTANTS)
        _copy(cur, Detection, rows)
    for row in rows:
        _count(progress, row["detector"], row["employee_id"])
    for detection in matched:
        progress.counts[detection["detector"]].suspected += 1
    ids = [v["id"] for v in violations]
    if ids:
        _audit(ids, [d["id"] for d in matched], progress)
    return ids


def _count_new(new: list[Detection], progress: Progress) -> None:
    for detection in new:
        _count(progress, detection.detector, detection.employee_id)


def _count(progress: Progress, detector: str, employee_id: int | None) -> None:
    counts = progress.counts[detector]
    counts.new += 1
    if employee_id is None:
        counts.unmatched += 1


def _next_ids(cur, model, n: int) -> list[int]:
    """``n`` fresh ids from the sequence of ``model``'s table (ascending)."""
    if not n:
        return []
    cur.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [model._meta.db_table, n]
    )
    return sorted(pk for (pk,) in cur.fetchall())


def _copy(cur, model, rows: list[dict[str, Any]], **constants: Any) -> None:
    """COPY ``rows`` (dicts of field attname → value, ids set, every row with the same names) into
    ``model``'s table, every concrete column: a column no row names takes the value of a new
    instance made with ``constants`` (its defaults; the automatic times from ``pre_save``), once for
    all rows. JSON as its text, enum members as their values, the rest as they are (what
    ``bulk_create`` would send; Django's per-value preparation was most of the batch's Python)."""
    if not rows:
        return
    named = rows[0].keys()
    blank = model(**constants)
    fields = model._meta.concrete_fields
    # per column: (the row's name, None) or (None, the constant as written); JSON columns: their null
    plan: list[tuple[str | None, Any, bool | None]] = []
    for f in fields:
        json_null = f.null if isinstance(f, models.JSONField) else None
        if f.attname in named:
            plan.append((f.attname, None, json_null))
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = f.pre_save(blank, True)
        else:
            value = getattr(blank, f.attname)
        plan.append((None, _plain(value) if json_null is None else _json(value, json_null), None))
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with cur.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    constant if name is None else row[name] if json_null is None else _json(row[name], json_null)
                    for name, constant, json_null in plan
                ]
            )


def _json(value: Any, null: bool) -> str | None:
    return None if value is None and null else json.dumps(value, ensure_ascii=False)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


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


def _detection(hit: Hit, progress: Progress, excerpt: list[dict[str, Any]]) -> dict[str, Any]:
    """A detection's values by attname (``Detection(**…)`` on the careful path)."""
    name = next((line["sender"] for line in excerpt if line["id"] == hit.message_ids[0]), "")
    return {
        "detector": hit.detector,
        "key": hit.key[:KEY_CHARS],
        "rule_id": progress.rules[hit.rule_code][0],
        "group_id": hit.group_id,
        "employee_id": hit.employee_id,
        "sender_platform_id": hit.sender_platform_id[:200],
        "sender_name": name[:200],
        "occurred_at": hit.occurred_at,
        "reason": hit.reason,
        "details": hit.details,
        "message_ids": list(hit.message_ids),
        "excerpt": excerpt,
        "run_id": progress.run.pk,
    }


def _suspect(new: list[Detection], progress: Progress) -> list[int]:
    """One suspected violation per new detection of a matched employee, linked back; audited."""
    matched = [d for d in new if d.employee_id is not None]
    if not matched:
        return []
    violations = Violation.objects.bulk_create(
        [Violation(**_violation(vars(d)), **VIOLATION_CONSTANTS) for d in matched]
    )
    for detection, violation in zip(matched, violations, strict=True):
        detection.violation_id = violation.pk
        progress.counts[detection.detector].suspected += 1
    _set_violations(matched)
    ids = [v.pk for v in violations]
    _audit(ids, [d.pk for d in matched], progress)
    return ids


# What every suspicion the runner makes has: 待核实, channel 系统检测, no recorder.
VIOLATION_CONSTANTS = {"recorded_by": None, "channel": Channel.DETECTION, "status": ViolationStatus.SUSPECTED}


def _violation(d: dict[str, Any]) -> dict[str, Any]:
    """A detection's suspected violation, both as values by attname (``VIOLATION_CONSTANTS`` for
    the rest)."""
    return {
        "employee_id": d["employee_id"],
        "group_id": d["group_id"],
        "rule_id": d["rule_id"],
        "occurred_at": d["occurred_at"],
        "description": d["reason"],
    }


def _audit(ids: list[int], detections: list[int], progress: Progress) -> None:
    log_summary(
        Violation,
        label=str(_("系统检测:待核实记录")),
        changes={"detect": [str(_("待核实")), f"violations={len(ids)}"]},
        data={"run": progress.run.pk, "violations": ids, "detections": detections},
        action=LogEntry.Action.CREATE,
    )


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


# --- evidence excerpts ------------------------------------------------------------------------------

EXCERPT_FIELDS = ("pk", "group_id", "sent_at", "sender_name", "sender_platform_id", "kind", "recalled")


def _ranges(triggers: list[tuple[int, datetime.datetime]]) -> list[tuple[int, datetime.datetime, datetime.datetime]]:
    """Per group, the merged time ranges of ``CONTEXT_SPAN`` around the triggering messages."""
    wanted: dict[int, list[list[datetime.datetime]]] = defaultdict(list)
    for group_id, sent_at in triggers:
        wanted[group_id].append([sent_at - CONTEXT_SPAN, sent_at + CONTEXT_SPAN])
    merged = []
    for group_id, spans in wanted.items():
        out: list[list[datetime.datetime]] = []
        for start, end in sorted(spans):
            if out and start <= out[-1][1]:
                out[-1][1] = max(out[-1][1], end)
            else:
                out.append([start, end])
        merged += [(group_id, start, end) for start, end in out]
    return merged


def _around(fresh: list[Hit]) -> dict[int, list[dict[str, Any]]]:
    """Per group in time order: the hits' triggering messages and, for each, at least the ``CONTEXT``
    messages before and after it within ``CONTEXT_SPAN`` (on PostgreSQL exactly those, one query; on
    SQLite every message of the merged spans around them, a few range queries)."""
    ids = sorted({m for hit in fresh for m in hit.message_ids})
    found: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    if connection.vendor == "postgresql":
        for row in _around_postgresql(ids):
            found[row["group_id"]][row["pk"]] = row
    else:
        triggers = list(ChatMessage.objects.filter(pk__in=ids).values_list("group_id", "sent_at"))
        ranges = _ranges(triggers)
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
                found[row["group_id"]][row["pk"]] = row
    return {g: sorted(rows.values(), key=lambda r: (r["sent_at"], r["pk"])) for g, rows in found.items()}


def _around_postgresql(ids: list[int]) -> list[dict[str, Any]]:
    """``_around`` in one query: for each triggering message, itself and the ``CONTEXT`` before it
    and the ``CONTEXT`` after it within ``CONTEXT_SPAN`` (two ``LATERAL`` index scans of
    ``(group, sent_at)`` that stop after a few rows). Busy groups write hundreds of messages in
    the half hours around a hit; reading them all was most of the runner's evidence time."""
    if not ids:
        return []
    table = connection.ops.quote_name(ChatMessage._meta.db_table)
    columns = (
        "m.id, m.group_id, m.sent_at, m.sender_name, m.sender_platform_id, m.kind, m.recalled, "
        f"SUBSTRING(m.text, 1, {EXCERPT_CHARS + 1}), SUBSTRING(m.link_title, 1, {EXCERPT_CHARS})"
    )
    sql = (
        f"SELECT n.* FROM {table} AS t CROSS JOIN LATERAL ("  # noqa: S608  names are ours
        f"(SELECT {columns} FROM {table} AS m WHERE m.group_id = t.group_id "
        "AND m.sent_at >= t.sent_at - %(span)s AND m.sent_at <= t.sent_at AND (m.sent_at < t.sent_at OR m.id <= t.id) "
        "ORDER BY m.sent_at DESC, m.id DESC LIMIT %(before)s) "
        f"UNION ALL (SELECT {columns} FROM {table} AS m WHERE m.group_id = t.group_id "
        "AND m.sent_at >= t.sent_at AND m.sent_at <= t.sent_at + %(span)s AND (m.sent_at > t.sent_at OR m.id > t.id) "
        "ORDER BY m.sent_at, m.id LIMIT %(after)s)"
        ") AS n WHERE t.id = ANY(%(ids)s)"
    )
    names = (*EXCERPT_FIELDS, "snippet", "title")
    with connection.cursor() as cur:
        cur.execute(sql, {"span": CONTEXT_SPAN, "before": CONTEXT + 1, "after": CONTEXT, "ids": ids})
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _line(row: dict[str, Any], kind_labels: dict[str, str], tz: datetime.tzinfo) -> dict[str, Any]:
    """A message as an excerpt line (``trigger`` is set per hit)."""
    text = row["snippet"] or row["title"] or ""
    if len(text) > EXCERPT_CHARS:
        text = text[:EXCERPT_CHARS] + "…"
    return {
        "id": row["pk"],
        "sender": row["sender_name"] or row["sender_platform_id"],
        "sender_id": row["sender_platform_id"],
        "sent_at": row["sent_at"].isoformat(),
        "local_time": f"{row['sent_at'].astimezone(tz):%Y-%m-%d %H:%M:%S}",  # the company's time, as shown
        "kind": row["kind"],
        "kind_label": kind_labels.get(row["kind"], row["kind"]),
        "recalled": row["recalled"],
        "text": text,
    }


def excerpts(fresh: list[Hit]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per hit, its triggering messages, each with up to ``CONTEXT`` messages before and after it
    within ``CONTEXT_SPAN``, in time order, as they read now (more than ``EXCERPT_LINES``: the first
    and the last half)."""
    around = _around(fresh)
    order = {g: [(r["sent_at"], r["pk"]) for r in rows] for g, rows in around.items()}
    at = {r["pk"]: (r["sent_at"], r["pk"]) for rows in around.values() for r in rows}
    kind_labels = {value: str(label) for value, label in MessageKind.choices}
    tz = company_tz()  # not timezone.localtime: its lookup of the active zone was 2/3 of a line's time
    lines: dict[int, dict[str, Any]] = {}  # one per message, shared by the hits showing it (a notice's)
    out = {}
    for hit in fresh:
        rows, keys = around.get(hit.group_id, []), order.get(hit.group_id, [])
        positions = sorted({bisect.bisect_left(keys, at[m]) for m in hit.message_ids if m in at})
        chosen_at: set[int] = set()
        for p in positions:
            sent_at = rows[p]["sent_at"]
            for i in range(max(0, p - CONTEXT), min(len(rows), p + CONTEXT + 1)):
                if abs(rows[i]["sent_at"] - sent_at) <= CONTEXT_SPAN:
                    chosen_at.add(i)
        chosen = [rows[i] for i in sorted(chosen_at)]
        if len(chosen) > EXCERPT_LINES:  # a long burst: its start and its end
            half = EXCERPT_LINES // 2
            chosen = chosen[:half] + chosen[-half:]
        triggers = set(hit.message_ids)
        excerpt = []
        for r in chosen:
            line = lines.get(r["pk"]) or lines.setdefault(r["pk"], _line(r, kind_labels, tz))
            excerpt.append({**line, "trigger": r["pk"] in triggers})
        out[(hit.detector, hit.key)] = excerpt
    return out
