"""WeChat PC export by WeChatMsg / 留痕 (MemoTrace): CSV, UTF-8 with BOM, one row per message.

Columns ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,
Sender``: the first nine straight from MSG.db, then the sender contact's remark (falling back to the
WeChat nickname), the WeChat *profile* nickname and the wxid. Neither Remark nor NickName is the
群昵称: the nickname check must never read them (they are kept as the display name only). Type 1
text, 3 image, 34 voice, 43 video, 47 emoji, 10000 system, 49 app message (SubType 5 link, 6 file,
57 quote, 2000 transfer, 2001 red packet). ``CreateTime`` is epoch seconds (UTC); ``StrTime`` is the
exporting PC's local time and is not read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.utils.translation import gettext as _

from ...choices import MessageKind
from ...importing.errors import ImportFileError
from ..records import ChatRecord, parse_mentions

HEADER = [
    "localId", "TalkerId", "Type", "SubType", "IsSender", "CreateTime",
    "Status", "StrContent", "StrTime", "Remark", "NickName", "Sender",
]  # fmt: skip
TYPE_TEXT, TYPE_IMAGE, TYPE_SYSTEM, TYPE_APP = 1, 3, 10000, 49
APP_KINDS = {5: MessageKind.LINK, 6: MessageKind.FILE, 57: MessageKind.TEXT, 2001: MessageKind.REDPACKET}
OTHER_TYPES = {34: "voice", 43: "video", 47: "emoji", 48: "location", 42: "card", 50: "call"}
MAX_EPOCH = 4102444800  # 2100-01-01
_URL_RE = re.compile(r"https?://[^\s<>\"']+")
_XML_TAG = {name: re.compile(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", re.S) for name in ("title", "url")}


def _int(cells: dict[str, str], name: str, number: int) -> int:
    value = cells[name].strip()
    try:
        return int(value)
    except ValueError:
        raise ImportFileError(name, _("应为整数,实际为“%(v)s”") % {"v": value[:30]}, row=number) from None


def _app_message(record: ChatRecord, content: str, subtype: int) -> None:
    record.kind = APP_KINDS.get(subtype, MessageKind.OTHER)
    record.extra["subtype"] = subtype
    title = _XML_TAG["title"].search(content) if content.lstrip().startswith("<") else None
    if record.kind == MessageKind.LINK:
        url = _XML_TAG["url"].search(content) or _URL_RE.search(content)
        record.link_url = url.group(1 if url.re is _XML_TAG["url"] else 0).strip() if url else None
        record.link_title = (title.group(1).strip()[:500] or None) if title else None
        record.text = None if title else (content or None)
    elif title:
        record.text = title.group(1).strip() or None
    else:
        record.text = content or None


def read(path: Path, encoding: str) -> Iterator[ChatRecord]:
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, strict=True)
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
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                raise ImportFileError(_("文件"), _("引号未闭合或 CSV 格式错误"), row=start) from None
            number, start = start, reader.line_num + 1
            if not "".join(row).strip():
                continue
            if len(row) < len(header):
                raise ImportFileError(
                    HEADER[min(len(row), len(HEADER) - 1)],
                    _("列数不足(应有 %(n)s 列,实际 %(m)s 列)") % {"n": len(header), "m": len(row)},
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
            if not sender and msg_type != TYPE_SYSTEM:
                raise ImportFileError("Sender", _("缺少发送人微信ID(wxid)"), row=number)
            content = cells["StrContent"]
            record = ChatRecord(
                line=number,
                key=f"{talker}:{local_id}",
                chat=talker,
                sender_id=sender if msg_type != TYPE_SYSTEM else "",
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
            elif msg_type == TYPE_SYSTEM:
                record.kind, record.text = MessageKind.SYSTEM, content
                record.sender_name = ""
            elif msg_type == TYPE_APP:
                _app_message(record, content, subtype)
            else:
                record.text = content or None
                record.extra["label"] = OTHER_TYPES.get(msg_type, str(msg_type))
            yield record
