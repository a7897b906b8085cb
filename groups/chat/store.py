"""Chat imports: scan a file (validate every line, the preview), then write it in one transaction.

The file is parsed once: the preview pass validates it (chat, date range, counts, matched and
unmatched senders) and spools every message it read (``spool``: COPY text, next to the upload).
The write transaction reads the spool: on PostgreSQL it is COPYed as it is into a temporary table,
then one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` keeps the accepted conversations, with the
senders' matches joined from a second small table; elsewhere rows go in batches through
``bulk_create(ignore_conflicts=True)``. The conflict target is the unique natural key per group and
platform, so a re-imported or overlapping export adds nothing twice. A bad line refuses the whole
file naming the line and the field; nothing is written. Recalls are applied set-based after each
write, whichever of the recall and the recalled message arrived first.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.audit import audit_context, log_summary
from portal.staging import copy_staged

from ..choices import ImportStatus, MessageKind, Platform
from ..importing.errors import ImportFileError
from ..models import ChatGroup, Employee, Membership
from ..signals import send_chat_imported
from . import spool
from .models import ChatImport, ChatMessage
from .readers import detect_platform, read_chat
from .records import ChatRecord, Skipped

BATCH = 2000
PROGRESS_EVERY = 20_000  # records between two progress reports (and heartbeats) of a worker
LOOKUP_CHUNK = 500
SENDERS_LISTED = 200  # the preview lists the busiest senders; the counts cover all of them


NOTHING_TO_IMPORT = gettext_lazy("文件: 没有可导入的群消息(单聊和设备切换记录不导入)")


class ChatImportError(Exception):
    """The file is refused whole: ``messages`` name the line and the field (Chinese)."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


@dataclass
class Scan:
    encoding: str = ""
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None
    kinds: Counter = field(default_factory=Counter)
    chats: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    senders: dict[str, dict[str, Any]] = field(default_factory=dict)


def _records(path: Path, platform: str) -> tuple[str, Iterator[ChatRecord | Skipped]]:
    try:
        return read_chat(path, platform)
    except ImportFileError as exc:
        raise ChatImportError([str(exc.error)]) from None


def _iterate(records: Iterator[ChatRecord | Skipped]) -> Iterator[ChatRecord | Skipped]:
    try:
        yield from records
    except ImportFileError as exc:
        raise ChatImportError([str(exc.error)]) from None


def chats_to_import(chats: Iterable[str], group: ChatGroup, platform: str) -> set[str]:
    """The conversations of the file that belong to ``group``: the only one, or those named by the
    group's 群ID / name. A WeCom roomid must be the group's 群ID when the group has one."""
    chats = set(chats)
    if not chats:
        raise ChatImportError([str(NOTHING_TO_IMPORT)])
    if platform == Platform.WECOM and group.external_id:
        if group.external_id not in chats:
            raise ChatImportError([_("roomid: 文件中没有所选群(群ID %(id)s)的消息") % {"id": group.external_id}])
        return {group.external_id}
    if len(chats) <= 1:
        return chats
    wanted = {c for c in chats if c and c in (group.external_id, group.name)}
    if wanted:
        return wanted
    listed = "、".join(sorted(chats)[:5])
    raise ChatImportError(
        [_("文件包含多个会话(%(chats)s),其中没有与所选群名称或群ID相同的,请分别导出后导入") % {"chats": listed}]
    )


Progress = Callable[[int], None] | None  # called with the line reached


def scan(
    path: str | Path, platform: str, *, out: IO[str] | None = None, progress: Progress = None
) -> tuple[Scan, dict[str, Scan]]:
    """Read the whole file once (streamed), validating every line: the skipped lines and each
    conversation's counts, range and senders; every message is spooled to ``out``. Raises
    ChatImportError."""
    result = Scan()
    per_chat: dict[str, Scan] = {}
    result.encoding, records = _records(Path(path), platform)
    write = out.write if out is not None else None
    count = 0
    for record in _iterate(records):
        if isinstance(record, Skipped):
            result.skipped[record.reason] += 1
            continue
        if write is not None:
            write(spool.line(record))
        count += 1
        if progress is not None and not count % PROGRESS_EVERY:
            progress(record.line)
        chat = per_chat.get(record.chat)
        if chat is None:
            chat = per_chat[record.chat] = Scan()
        result.chats[record.chat] += 1
        chat.messages += 1
        chat.kinds[record.kind] += 1
        if chat.first is None or record.sent_at < chat.first:
            chat.first = record.sent_at
        if chat.last is None or record.sent_at > chat.last:
            chat.last = record.sent_at
        if record.sender_id:
            sender = chat.senders.get(record.sender_id)
            if sender is None:
                sender = chat.senders[record.sender_id] = {"name": record.sender_name, "count": 0}
            sender["count"] += 1
            if record.sender_name:
                sender["name"] = record.sender_name  # the latest name in the file
    return result, per_chat


def _combine(result: Scan, per_chat: dict[str, Scan], accepted: set[str]) -> Scan:
    """The accepted conversations' figures into ``result``; the others are counted as skipped."""
    for name, chat in per_chat.items():
        if name not in accepted:
            result.skipped["other_chat"] += chat.messages
            continue
        result.messages += chat.messages
        result.kinds.update(chat.kinds)
        result.first = min(filter(None, (result.first, chat.first)))
        result.last = max(filter(None, (result.last, chat.last)))
        for sender_id, info in chat.senders.items():
            mine = result.senders.setdefault(sender_id, {"name": info["name"], "count": 0})
            mine["count"] += info["count"]
            mine["name"] = info["name"] or mine["name"]
    return result


def match_senders(group: ChatGroup, platform: str, ids: Iterable[str]) -> dict[str, tuple[int | None, int | None]]:
    """sender platform id → (membership id, employee id), through the ids the roster import stores:
    the group's membership with that 平台账号 (an open one first), else the one employee whose
    微信号 / 企业微信账号 / QQ号 it is. Never by display name."""
    ids = [i for i in ids if i]
    found: dict[str, tuple[int | None, int | None]] = {}
    field_name = Employee.PLATFORM_ID_FIELDS.get(platform)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        best: dict[str, tuple] = {}
        rows = Membership.objects.filter(group=group, platform_id__in=chunk)
        for platform_id, pk, employee_id, left_at in rows.values_list("platform_id", "pk", "employee_id", "left_at"):
            current = best.get(platform_id)
            # an open membership wins; else the one who left last
            if current is None or (current[2] is not None and (left_at is None or left_at > current[2])):
                best[platform_id] = (pk, employee_id, left_at)
        for platform_id, (pk, employee_id, _left) in best.items():
            found[platform_id] = (pk, employee_id)
        if field_name:
            by_id: dict[str, list[int]] = {}
            for employee_pk, value in Employee.objects.filter(**{f"{field_name}__in": chunk}).values_list(
                "pk", field_name
            ):
                by_id.setdefault(value, []).append(employee_pk)
            for value, pks in by_id.items():
                membership_pk, employee_pk = found.get(value, (None, None))
                if employee_pk is None and len(pks) == 1:  # an id two employees share matches neither
                    found[value] = (membership_pk, pks[0])
    return found


def _preview(group: ChatGroup, platform: str, result: Scan, accepted: set[str]) -> dict[str, Any]:
    matches = match_senders(group, platform, list(result.senders))
    ordered = sorted(result.senders.items(), key=lambda item: (-item[1]["count"], item[0]))
    listed = {matches.get(sender_id, (None, None))[1] for sender_id, _info in ordered[:SENDERS_LISTED]}
    labels = {e.pk: str(e) for e in Employee.objects.filter(pk__in=listed - {None}).only("name", "employee_no")}
    senders = []
    matched = 0
    for sender_id, info in ordered:
        membership_id, employee_id = matches.get(sender_id, (None, None))
        is_matched = bool(membership_id or employee_id)
        matched += is_matched
        if len(senders) < SENDERS_LISTED:
            senders.append(
                {
                    "id": sender_id,
                    "name": info["name"],
                    "count": info["count"],
                    "matched": is_matched,
                    "employee": labels.get(employee_id, "") if employee_id else "",
                    "member": bool(membership_id),
                }
            )
    return {
        "chats": sorted(accepted),
        "messages": result.messages,
        "first": result.first.isoformat() if result.first else None,
        "last": result.last.isoformat() if result.last else None,
        "kinds": dict(result.kinds),
        "skipped": dict(result.skipped),
        "senders": senders,
        "sender_total": len(result.senders),
        "sender_ids": list(result.senders),  # all of them: matched before the write (COPY allows no query)
        "matched": matched,
        "unmatched": len(result.senders) - matched,
    }


def inspect(
    path: str | Path, group: ChatGroup, platform: str, *, out: IO[str] | None = None, progress: Progress = None
) -> tuple[Scan, dict[str, Any]]:
    """Validate and preview a file for ``group`` (spooling its messages to ``out``). Raises
    ChatImportError."""
    path = Path(path)
    result, per_chat = scan(path, platform, out=out, progress=progress)
    accepted = chats_to_import(result.chats, group, platform)
    _combine(result, per_chat, accepted)
    if not result.messages:
        raise ChatImportError([str(NOTHING_TO_IMPORT)])
    return result, _preview(group, platform, result, accepted)


# --- jobs -----------------------------------------------------------------------------------------


def guess_platform(path: str | Path, group: ChatGroup | None = None) -> str:
    found = detect_platform(path)
    if found is None:
        if group is not None and group.platform in (Platform.WECOM, Platform.WECHAT, Platform.QQ):
            return group.platform
        raise ChatImportError(
            [_("文件: 无法识别的聊天记录格式(支持企业微信会话存档 JSONL、留痕 CSV、QQ 消息管理器 TXT)")]
        )
    return found


def create_chat_import(
    *, group: ChatGroup, acting_user, platform: str = "", upload: File | None = None, original_name: str = ""
) -> ChatImport:
    """Record an upload (the file under MEDIA_ROOT/imports/chat). Nothing is parsed here."""
    job = ChatImport(
        group=group,
        platform=platform or group.platform,
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
        original_name=Path(original_name or getattr(upload, "name", "") or "").name[:255],
    )
    job.save()
    if upload is not None:
        job.size = upload.size or 0
        job.file.save(f"{uuid.uuid4().hex}{Path(job.original_name).suffix.lower()}", upload, save=False)
        ChatImport.objects.filter(pk=job.pk).update(file=job.file.name, size=job.size)
    return job


def _path(job: ChatImport, path: str | Path | None) -> Path:
    if path is not None:
        return Path(path)
    if not job.file:
        raise ChatImportError([_("上传的文件已不存在,请重新上传。")])
    return Path(job.file.path)


def drop_files(job: ChatImport) -> None:
    """Delete the job's upload and spool (message bodies: personal data), not saving the row."""
    spool.discard(job.pk)
    if job.file:
        job.file.delete(save=False)
        job.file = ""


def preview_chat_import(
    job: ChatImport,
    *,
    path: str | Path | None = None,
    detect: bool = False,
    progress: Progress = None,
    save: bool = True,
) -> ChatImport:
    """Validate and preview (spooling the messages for the write): PREVIEWED with the preview, or
    INVALID with the errors (file and spool deleted). ``save=False``: the caller records it."""
    try:
        source = _path(job, path)
        if detect:
            job.platform = guess_platform(source, job.group)
        with spool.writing(job.pk) as out:
            result, preview = inspect(source, job.group, job.platform, out=out, progress=progress)
    except ChatImportError as exc:
        drop_files(job)
        job.status, job.errors, job.finished_at = ImportStatus.INVALID, exc.messages, timezone.now()
        if save:
            job.save()
        return job
    job.status, job.errors, job.preview, job.encoding = ImportStatus.PREVIEWED, [], preview, result.encoding
    job.message_count = result.messages
    job.first_sent_at, job.last_sent_at = result.first, result.last
    job.matched_senders, job.unmatched_senders = preview["matched"], preview["unmatched"]
    if save:
        job.save()
    return job


def apply_recalls(group: ChatGroup, platform: str) -> int:
    """Flag every message of ``group`` a stored recall names (idempotent). The recalls are few: read
    once, then the targets are updated by their natural key (the unique index), in chunks; no plan
    depends on the statistics of a table that has just grown by a million rows."""
    recalls = ChatMessage.objects.filter(group=group, platform=platform, kind=MessageKind.RECALL).exclude(recalls="")
    first: dict[str, datetime] = {}
    for target, sent_at in recalls.order_by("sent_at").values_list("recalls", "sent_at").iterator():
        first.setdefault(target, sent_at)
    targets = list(first)
    updated = 0
    for start in range(0, len(targets), LOOKUP_CHUNK):
        chunk = targets[start : start + LOOKUP_CHUNK]
        updated += ChatMessage.objects.filter(
            group=group, platform=platform, recalled=False, natural_key__in=chunk
        ).update(
            recalled=True,
            recalled_at=Case(*(When(natural_key=key, then=Value(first[key])) for key in chunk)),
        )
    return updated


def run_chat_import(
    job: ChatImport, *, acting_user, path: str | Path | None = None, channel: str | None = None
) -> ChatImport:
    """Write a previewed job in one transaction; the stored file and the spool are deleted afterwards."""
    return write_chat_import(job, acting_user=acting_user, path=path, channel=channel, status=ImportStatus.PREVIEWED)


def not_confirmable(job: ChatImport) -> str:
    return _("此导入当前不能确认(状态:%(s)s)。") % {"s": job.get_status_display()}


@transaction.atomic
def write_chat_import(
    job: ChatImport,
    *,
    acting_user,
    status: str,
    path: str | Path | None = None,
    channel: str | None = None,
    started_at: datetime | None = None,
) -> ChatImport:
    """Write a job that is in ``status`` (PREVIEWED; RUNNING for a worker's claim made at
    ``started_at``) from its spool in one transaction: all of it or, on any error, nothing."""
    # The job row first: while it is locked a worker's job is alive (groups.chat.jobs).
    job = ChatImport.objects.select_for_update().get(pk=job.pk)
    group = ChatGroup.objects.select_for_update().get(pk=job.group_id)  # one import per group at a time
    if job.status != status or (started_at is not None and job.started_at != started_at):
        raise ChatImportError([not_confirmable(job)])
    rows = spool.spool_path(job.pk)
    if not rows.exists():  # previewed by an older version, or the spool was lost: read the file again
        with spool.writing(job.pk) as out:
            scan(_path(job, path), job.platform, out=out)
    accepted = sorted(job.preview.get("chats") or [])
    sender_ids = job.preview.get("sender_ids") or []
    matches = dict.fromkeys(sender_ids, (None, None))
    matches.update(match_senders(group, job.platform, sender_ids))
    if use_copy():
        written, created = _copy_insert(rows, group, job, accepted, matches)
    else:
        written, created = _batch_insert(rows, group, job, accepted, matches)
    recalled = apply_recalls(group, job.platform)
    with audit_context(acting_user, channel):
        log_summary(
            job,
            label=str(job),
            changes={"import": [str(_("聊天记录")), f"messages={written}, created={created}"]},
            data={"group": group.pk, "platform": job.platform, "created": created, "recalled": recalled},
            actor=acting_user,
        )
    drop_files(job)
    job.status, job.finished_at = ImportStatus.DONE, timezone.now()
    job.created_count = min(created, job.message_count) if job.message_count else created
    job.preview = {**job.preview, "created": created, "duplicates": written - created, "recalled": recalled}
    job.save()
    send_chat_imported(job.pk, group.pk)
    return job


def use_copy() -> bool:
    """PostgreSQL writes through COPY into a temporary table; other databases in batches."""
    return connection.vendor == "postgresql"


def _batch_insert(rows: Path, group: ChatGroup, job: ChatImport, accepted: list[str], matches: dict) -> tuple[int, int]:
    """The spooled messages of the accepted conversations in batches of ``bulk_create``."""
    wanted = set(accepted)
    before = ChatMessage.objects.filter(group=group).count()
    written = 0
    batch: list[ChatMessage] = []
    for values in spool.read(rows):
        if values.pop("chat") not in wanted:
            continue
        membership_id, employee_id = matches.get(values["sender_platform_id"], (None, None))
        batch.append(
            ChatMessage(
                group=group,
                platform=job.platform,
                chat_import=job,
                membership_id=membership_id,
                employee_id=employee_id,
                **values,
            )
        )
        if len(batch) >= BATCH:
            written += len(ChatMessage.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    written += len(ChatMessage.objects.bulk_create(batch, ignore_conflicts=True))
    return written, ChatMessage.objects.filter(group=group).count() - before


COPY_COLUMNS = (
    "group_id", "platform", "natural_key", "chat_import_id", "sender_platform_id", "sender_name",
    "membership_id", "employee_id", "sent_at", "kind", "text", "link_url", "link_title", "mentions",
    "mentions_all", "recalled", "recalled_at", "recalls", "extra", "purged_at", "imported_at",
)  # fmt: skip
STAGE = "qungui_chat_stage"


def _copy_insert(rows: Path, group: ChatGroup, job: ChatImport, accepted: list[str], matches: dict) -> tuple[int, int]:
    """PostgreSQL. Returns (rows of the accepted conversations, rows inserted).

    When no stored message of the group falls within the file's time range (a first import, the
    next month's export), no stored key can conflict (a key names one message, sent at one time):
    the rows are COPYed straight into the message table, in a savepoint, so that a key the file
    itself repeats only sends them the other way. Otherwise (and after such a failure) through a
    temporary table and ``INSERT … ON CONFLICT DO NOTHING``."""
    overlap = ChatMessage.objects.filter(
        group=group, platform=job.platform, sent_at__gte=job.first_sent_at, sent_at__lte=job.last_sent_at
    )
    if job.first_sent_at and job.last_sent_at and not overlap.exists():
        try:
            with transaction.atomic(), connection.wrap_database_errors:
                written = _copy_direct(rows, group, job, accepted, matches)
            return written, written
        except IntegrityError:
            pass
    return _copy_staged(rows, group, job, accepted, matches)


DIRECT_COLUMNS = (
    "group_id", "platform", "chat_import_id", "imported_at", "recalled", "membership_id", "employee_id",
    *spool.SPOOL_COLUMNS[1:],
)  # fmt: skip


def _copy_direct(rows: Path, group: ChatGroup, job: ChatImport, accepted: list[str], matches: dict) -> int:
    """The spool's lines of the accepted conversations, with the job's columns and the sender's match
    put in front as text, COPYed into the message table (the lines are split, never decoded)."""
    prefix = f"{group.pk}\t{job.platform}\t{job.pk}\t{timezone.now().isoformat()}\tf\t"
    wanted = {spool.escape(chat) for chat in accepted}
    unmatched = f"{spool.NULL}\t{spool.NULL}\t"
    known = {
        spool.escape(sender): f"{m or spool.NULL}\t{e or spool.NULL}\t" for sender, (m, e) in matches.items() if m or e
    }
    table = ChatMessage._meta.db_table
    written = 0
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({', '.join(DIRECT_COLUMNS)}) FROM STDIN") as copy,
        rows.open(encoding="utf-8", newline="") as fh,
    ):
        batch: list[str] = []
        for line in fh:
            chat, sender, rest = line.split("\t", 2)
            if chat in wanted:
                batch.append(f"{prefix}{known.get(sender, unmatched)}{sender}\t{rest}")
                if len(batch) >= BATCH:
                    copy.write("".join(batch))
                    written += len(batch)
                    batch = []
        copy.write("".join(batch))
        written += len(batch)
    return written


def _copy_staged(rows: Path, group: ChatGroup, job: ChatImport, accepted: list[str], matches: dict) -> tuple[int, int]:
    """The spool file COPYed as it is into a temporary table, the matched senders into another; one
    ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into the message table."""
    table = ChatMessage._meta.db_table
    spooled = ", ".join(spool.SPOOL_COLUMNS[1:])
    matched = ((sender, m, e) for sender, (m, e) in matches.items() if m or e)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGE} ON COMMIT DROP AS "  # noqa: S608  names are ours
            f"SELECT ''::text AS chat, {spooled} FROM {table} WITH NO DATA"
        )
        columns = ", ".join(spool.SPOOL_COLUMNS)
        with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy, rows.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        senders = ("sender_platform_id", "membership_id", "employee_id")
        with copy_staged(cursor, "qungui_chat_senders", like=table, columns=senders, rows=matched) as known:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(COPY_COLUMNS)}) "  # noqa: S608  names are ours
                f"SELECT %s, %s, s.natural_key, %s, s.sender_platform_id, s.sender_name, k.membership_id, "
                f"k.employee_id, s.sent_at, s.kind, s.text, s.link_url, s.link_title, s.mentions, s.mentions_all, "
                f"false, NULL, s.recalls, s.extra, NULL, %s "
                f"FROM {STAGE} s LEFT JOIN {known} k ON k.sender_platform_id = s.sender_platform_id "
                f"WHERE s.chat = ANY(%s) ON CONFLICT (group_id, platform, natural_key) DO NOTHING",
                [group.pk, job.platform, job.pk, timezone.now(), accepted],
            )
            created = cursor.rowcount
        cursor.execute(f"SELECT count(*) FROM {STAGE} WHERE chat = ANY(%s)", [accepted])  # noqa: S608
        written = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {STAGE}")
    return written, created


@transaction.atomic
def cancel_chat_import(job: ChatImport, *, acting_user) -> bool:
    job = ChatImport.objects.select_for_update().get(pk=job.pk)
    if job.status not in (ImportStatus.UPLOADED, ImportStatus.PREVIEWED, ImportStatus.INVALID):
        return False
    drop_files(job)
    job.status, job.finished_at = ImportStatus.CANCELLED, timezone.now()
    job.save()
    return True


def import_chat_file(
    path: str | Path, *, group: ChatGroup, acting_user, platform: str = "", dry_run: bool = False
) -> ChatImport:
    """The command line's path: record a job without storing the file, preview, then write."""
    path = Path(path)
    job = create_chat_import(group=group, acting_user=acting_user, platform=platform, original_name=path.name)
    job.size = path.stat().st_size
    job = preview_chat_import(job, path=path, detect=not platform)
    if job.status != ImportStatus.PREVIEWED or dry_run:
        return job
    return run_chat_import(job, acting_user=acting_user, path=path)
