"""WeChat PC export by WeChatMsg / 留痕 (MemoTrace): CSV, UTF-8 with BOM, one row per message.

Columns ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,
Sender``: the first nine straight from MSG.db, then the sender contact's remark (falling back to the
WeChat nickname), the WeChat *profile* nickname and the wxid. Neither Remark nor NickName is the
群昵称: the nickname check must never read them (they are kept as the display name only). Type 1
text, 3 image, 34 voice, 43 video, 47 emoji, 10000 system and 10002 system XML (a recall notice:
``<sysmsg type="revokemsg">``, its ``replacemsg`` kept as the text), both without a sender when
WeChat stored none, 49 app message (SubType 5 link, 6 file, 57 quote, 2000 transfer, 2001 red
packet; the XML's entities decoded). ``CreateTime`` is epoch seconds (UTC); ``StrTime`` is the
exporting PC's local time and is not read.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.utils.translation import gettext as _

from ...choices import MessageKind
from ...importing.errors import ImportFileError
from ...importing.readers import text_lines
from ..records import MAX_ID, ChatRecord, parse_mentions, urls_in_text

HEADER = [
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime",
    "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender",
]  # fmt: skip
TYPE_TEXT, TYPE_IMAGE, TYPE_SYSTEM, TYPE_SYSTEM_XML, TYPE_APP = 1, 3, 10000, 10002, 49
SYSTEM_TYPES = {TYPE_SYSTEM, TYPE_SYSTEM_XML}
APP_KINDS = {5: MessageKind.LINK, 6: MessageKind.FILE, 57: MessageKind.TEXT, 2001: MessageKind.REDPACKET}
OTHER_TYPES = {34: "voice", 43: "video", 47: "emoji", 48: "location", 42: "card", 50: "call"}
MAX_EPOCH = 4102444800  # 2100-01-01
# csv's default cell limit (131,072 characters) is below what a real StrContent holds (a forwarded
# chat record's XML, a pasted document): a cell up to this size is read; a larger one is refused.
MAX_CELL = 64 << 20
_XML_TAG = {
    name: re.compile(rf"<{name}>(<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", re.S)
    for name in ("title", "url", "replacemsg")
}


def _tag(content: str, name: str) -> str | None:
    """The text of the first ``<name>`` element: a CDATA section as it is, else its entities decoded."""
    match = _XML_TAG[name].search(content)
    if match is None:
        return None
    return (match.group(2) if match.group(1) else html.unescape(match.group(2))).strip()


def _url_in_text(content: str) -> str | None:
    return next(iter(urls_in_text(content)), None)


def _int(cells: dict[str, str], name: str, number: int) -> int:
    value = cells[name].strip()
    try:
        return int(value)
    except ValueError:
        raise ImportFileError(name, _("应为整数,实际为“%(v)s”") % {"v": value[:30]}, row=number) from None


def _app_message(record: ChatRecord, content: str, subtype: int) -> None:
    record.kind = APP_KINDS.get(subtype, MessageKind.OTHER)
    record.extra["subtype"] = subtype
    title = _tag(content, "title") if content.lstrip().startswith("<") else None
    if record.kind == MessageKind.LINK:
        url = _tag(content, "url") if title is not None else None
        record.link_url = url or _url_in_text(content)
        record.link_title = (title[:500] or None) if title is not None else None
        record.text = None if title is not None else (content or None)
    elif title is not None:
        record.text = title or None
    else:
        record.text = content or None


def _csv_error(exc: csv.Error) -> str:
    if "field larger than field limit" in str(exc):
        return _("单元格过长(超过 %(n)s 个字符)") % {"n": f"{MAX_CELL:,}"}
    return _("引号未闭合或 CSV 格式错误")


def read(path: Path, encoding: str) -> Iterator[ChatRecord]:
    if csv.field_size_limit() < MAX_CELL:
        csv.field_size_limit(MAX_CELL)
    with path.open(encoding=encoding, newline="") as fh:
        # As the roster import reads a CSV: Excel's "Unicode text" (UTF-16) save of the export is
        # tab-separated, detected from the header line.
        sample = fh.readline()
        fh.seek(0)
        delimiter = "\t" if "\t" in sample and "," not in sample else ","
        # CR CR LF is one line end (text_lines): line_num counts the file's lines, not a blank one after each
        reader = csv.reader(text_lines(fh), delimiter=delimiter, strict=True)
        try:
            header = next(reader, None)
        except csv.Error:
            raise ImportFileError(_("表头"), _("CSV 格式错误"), row=1) from None
        header = [h.lstrip("\ufeff").strip() for h in header or []]
        missing = [name for name in HEADER if name not in header]
        if missing:
            raise ImportFileError(
                _("表头"),
                _("不是 WeChatMsg/留痕 导出的 CSV:缺少列 %(cols)s") % {"cols": "、".join(missing)},
                row=1,
            )
        index = {name: header.index(name) for name in HEADER}
        needed = max(index.values()) + 1  # columns after the last one read may be missing
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(_("文件"), _csv_error(exc), row=start) from None
            number, start = start, reader.line_num + 1
            if not "".join(row).strip():
                continue
            if len(row) < needed:
                raise ImportFileError(
                    next(name for name in HEADER if index[name] >= len(row)),
                    _("列数不足(应有 %(n)s 列,实际 %(m)s 列)") % {"n": needed, "m": len(row)},
                    row=number,
                )
            cells = {name: row[i] for name, i in index.items()}
            local_id = _int(cells, "localId", number)
            msg_type = _int(cells, "Type", number)
            subtype = _int(cells, "SubType", number) if cells["SubType"].strip() else 0
            created = _int(cells, "CreateTime", number)
            if not 0 < created < MAX_EPOCH:
                raise ImportFileError("CreateTime", _("应为秒级时间戳"), row=number)
            talker = cells["TalkerId"].strip()
            if not talker:
                raise ImportFileError("TalkerId", _("缺少会话ID"), row=number)
            sender = cells["Sender"].strip()
            if not sender and msg_type not in SYSTEM_TYPES:
                raise ImportFileError("Sender", _("缺少发送人微信ID(wxid)"), row=number)
            if len(sender) > MAX_ID:
                raise ImportFileError("Sender", _("发送人ID过长(超过 %(n)s 个字符)") % {"n": MAX_ID}, row=number)
            if len(talker) + 1 + len(str(local_id)) > MAX_ID:  # the message's key: TalkerId:localId
                too_long = _("会话ID过长(与 localId 合计超过 %(n)s 个字符)") % {"n": MAX_ID}
                raise ImportFileError("TalkerId", too_long, row=number)
            content = cells["StrContent"]
            record = ChatRecord(
                line=number,
                key=f"{talker}:{local_id}",
                chat=talker,
                sender_id=sender if msg_type not in SYSTEM_TYPES else "",
                sender_name=(cells["Remark"].strip() or cells["NickName"].strip())[:200],
                sent_at=datetime.fromtimestamp(created, tz=UTC),
                kind=MessageKind.OTHER,
                extra={"type": msg_type, "is_sender": cells["IsSender"].strip() == "1"},
            )
            if cells["NickName"].strip():
                record.extra["profile_nickname"] = cells["NickName"].strip()[:200]
            if msg_type == TYPE_TEXT:
                record.kind, record.text = MessageKind.TEXT, content
                record.mentions, record.mentions_all = parse_mentions(content)
            elif msg_type == TYPE_IMAGE:
                record.kind = MessageKind.IMAGE
            elif msg_type in SYSTEM_TYPES:
                record.kind, record.sender_name = MessageKind.SYSTEM, ""
                replaced = _tag(content, "replacemsg") if msg_type == TYPE_SYSTEM_XML else None
                record.text = replaced or content
            elif msg_type == TYPE_APP:
                _app_message(record, content, subtype)
            else:
                record.text = content or None
                record.extra["label"] = OTHER_TYPES.get(msg_type, str(msg_type))
            yield record
