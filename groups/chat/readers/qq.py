"""QQ 消息管理器 TXT export.

A title line ``消息记录（此消息记录为文本格式，不支持重新导入）``, then per chat a block: a line of 64
``=``, ``消息分组:…``, 64 ``=``, ``消息对象:…``, 64 ``=``. Each message is a header line
``YYYY-MM-DD H:MM:SS 名片(QQ号)`` or ``… 名片<邮箱>`` (the hour not zero-padded; English-locale Windows
writes ``8:43:38 PM``; a ``【管理员】``-style title may precede the 名片), its content on the following
lines, a blank line between messages: a header-shaped line right after a content line (``2026-11-03
9:00:00 会议室(301)`` in a notice) is content, and so is a line of 64 ``=`` that no ``消息分组:`` /
``消息对象:`` follows. ``系统消息(10000)`` / ``(1000000)`` carry joins and leaves. The
encoding is whatever Windows wrote (UTF-8 with or without BOM, GBK, UTF-16): detected as the roster
import does. Times are the exporting PC's local time, read in the company's time zone.

QQ exports carry no message id: the natural key is a hash of the time, the sender's QQ number (or
email) and the text, plus a sequence number for identical repeats in one block (two 收到 from one
person in the same second are two messages).
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _

from ...choices import MessageKind
from ...importing.errors import ImportFileError
from ..records import ChatRecord, parse_mentions

SEPARATOR = "=" * 64
SYSTEM_IDS = {"10000", "1000000"}
_HEADER_RE = re.compile(
    r"^(?P<date>\d{4}-\d{1,2}-\d{1,2}) (?P<time>\d{1,2}:\d{2}:\d{2})(?: ?(?P<ampm>[AaPp][Mm]))? "
    r"(?P<name>.*?)(?:\((?P<qq>[^()]*)\)|<(?P<email>[^<>\s]+@[^<>\s]+)>)$"
)
_FIELD_RE = re.compile(r"^(消息分组|消息对象)[:：](.*)$")
_TITLE_RE = re.compile(r"^【([^】]*)】\s*(.*)$")
_ONLY_IMAGES = re.compile(r"^(\[图片\]\s*)+$")
# The start of a header (a date, a space, a digit of the time): the file's last line, after a blank
# line, that starts so but is no header is a header cut off (a truncated export), not content.
_HEADER_START = re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d")
REPEAT_WINDOW = timedelta(days=1)


def _time(match: re.Match, number: int) -> datetime:
    stamp = f"{match['date']} {match['time']}"
    try:
        local = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise ImportFileError(_("时间"), _("不是有效的时间“%(v)s”") % {"v": stamp}, row=number) from None
    if match["ampm"]:
        hour = local.hour
        if not 1 <= hour <= 12:
            raise ImportFileError(_("时间"), _("12小时制的钟点应为 1–12,实际为“%(v)s”") % {"v": stamp}, row=number)
        pm = match["ampm"].upper() == "PM"
        local = local.replace(hour=(hour % 12) + (12 if pm else 0))
    return local.replace(tzinfo=ZoneInfo(settings.TIME_ZONE)).astimezone(UTC)


class _Repeats:
    """How often each (time, sender, text) has come in the block so far: the key's sequence number.
    An export is in time order, so only the messages within a day of the current one are kept:
    memory stays flat however long the block (a dict of every message grew with the file)."""

    __slots__ = ("counts", "order")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.order: deque[tuple[datetime, str]] = deque()

    def next(self, digest: str, sent_at: datetime) -> int:
        order, counts = self.order, self.counts
        while order and abs(order[0][0] - sent_at) > REPEAT_WINDOW:
            del counts[order.popleft()[1]]
        count = counts.get(digest, 0) + 1
        if count == 1:
            order.append((sent_at, digest))
        counts[digest] = count
        return count


def _key(sent_at: datetime, sender: str, text: str, seen: _Repeats) -> str:
    digest = hashlib.sha256(f"{sent_at.isoformat()}\x1f{sender}\x1f{text}".encode()).hexdigest()[:40]
    return f"{digest}-{seen.next(digest, sent_at)}"


def _ends_with_line_break(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2))
        tail = fh.read()
    return tail.rstrip(b"\x00")[-1:] in (b"\n", b"\r")  # UTF-16: "\n\0" (LE) or "\0\n" (BE)


def _sender(match: re.Match) -> str:
    return (match["qq"] or match["email"] or "").strip()


def _starts(message: _Message | None, match: re.Match, senders: set[str]) -> bool:
    """Whether a header-shaped line starts a message: after a blank line (as the exporter writes
    them), or right after content when its sender has written in this block already (an export
    without blank lines); else it is a line of the message, such as ``2026-11-03 9:00:00 会议室(301)``
    in a notice."""
    if message is None or not message.content or not message.content[-1].strip():
        return True
    return _sender(match) in senders


class _Message:
    __slots__ = ("content", "line", "match", "sent_at")

    def __init__(self, line: int, match: re.Match, sent_at: datetime) -> None:
        self.line, self.match, self.sent_at, self.content = line, match, sent_at, []


def _record(message: _Message, chat: str, seen: _Repeats) -> ChatRecord:
    match = message.match
    while message.content and not message.content[-1].strip():
        message.content.pop()
    text = "\n".join(message.content)
    name = match["name"].strip()
    extra: dict = {}
    title = _TITLE_RE.match(name)
    if title:
        extra["title"], name = title.group(1), title.group(2).strip()
    qq, email = (match["qq"] or "").strip(), (match["email"] or "").strip()
    sender = qq or email
    system = qq in SYSTEM_IDS or (name == "系统消息" and not email)
    if system:
        kind, sender, name = MessageKind.SYSTEM, "", ""
    elif _ONLY_IMAGES.match(text):
        kind = MessageKind.IMAGE
    elif text.startswith("[QQ红包]"):
        kind = MessageKind.REDPACKET
    elif text.startswith("[文件]"):
        kind = MessageKind.FILE
    else:
        kind = MessageKind.TEXT
    if email:
        extra["email"] = True
    record = ChatRecord(
        line=message.line,
        key=_key(message.sent_at, sender, text, seen),
        chat=chat,
        sender_id=sender[:200],
        sender_name=name[:200],
        sent_at=message.sent_at,
        kind=kind,
        text=text if kind != MessageKind.IMAGE else None,
        extra=extra,
    )
    if kind == MessageKind.TEXT:
        record.mentions, record.mentions_all = parse_mentions(text)
    return record


def read(path: Path, encoding: str) -> Iterator[ChatRecord]:
    from . import numbered_lines

    chat = ""
    in_header = False  # between the first and the last separator of a block header
    seen = _Repeats()
    message: _Message | None = None
    # A separator right after a message's content: a block header starts only if a 消息分组: /
    # 消息对象: line follows; else the separator (and the blank lines after it) were that message's.
    held: list[str] = []
    senders: set[str] = set()  # of this block, for a header written without the blank line before it
    blocks = 0
    for number, line in numbered_lines(path, encoding):
        if line.rstrip() == SEPARATOR:
            if message is not None and not in_header:
                held = [line]
                in_header = True
                continue
            if not in_header:
                in_header, chat, seen, senders = True, "", _Repeats(), set()
                blocks += 1
            continue
        if in_header:
            field = _FIELD_RE.match(line.strip())
            if field:
                if message is not None:  # the separator opened a new block: the message has ended
                    yield _record(message, chat, seen)
                    message, held = None, []
                    chat, seen, senders = "", _Repeats(), set()
                    blocks += 1
                if field.group(1) == "消息对象":
                    chat = field.group(2).strip()
                continue
            if not line.strip():
                if held:
                    held.append(line)
                continue
            if message is not None:  # a line of "=" inside the message: content after all
                message.content += held
                held, in_header = [], False
            else:
                if not chat:
                    raise ImportFileError(_("消息对象"), _("分组标题后缺少“消息对象:”行"), row=number)
                in_header = False
        match = _HEADER_RE.match(line.rstrip())
        if match and (match["qq"] is None or match["qq"].strip().isdigit()) and _starts(message, match, senders):
            if message is not None:
                yield _record(message, chat, seen)
            message = _Message(number, match, _time(match, number))
            senders.add(_sender(match))
            continue
        if message is not None:
            message.content.append(line)
        elif line.strip() and (blocks or not line.startswith("消息记录")):
            if not blocks:
                raise ImportFileError(_("文件"), _("不是 QQ 消息管理器导出的文本:缺少“消息对象”分组标题"), row=number)
            raise ImportFileError(
                _("消息头"),
                _("应为“YYYY-MM-DD H:MM:SS 名片(QQ号)”或“名片<邮箱>”,实际为“%(v)s”") % {"v": line[:40]},
                row=number,
            )
    if message is not None:
        message.content += held
        content = message.content
        if (
            not held
            and len(content) >= 2
            and not content[-2].strip()
            and _HEADER_START.match(content[-1])
            and not _ends_with_line_break(path)
        ):
            raise ImportFileError(
                _("消息头"),
                _("最后一行是不完整的消息头“%(v)s”(文件可能被截断),请重新导出") % {"v": content[-1][:40]},
                row=number,
            )
        yield _record(message, chat, seen)
