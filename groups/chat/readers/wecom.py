"""WeCom 会话内容存档, decrypted: one DecryptData plaintext (a JSON object) per line.

``{msgid, action: send|recall|switch, from, tolist[], roomid, msgtime (UTC ms), msgtype, <msgtype>: {…}}``;
``roomid`` "" is a one-to-one chat (not a group: skipped); ``switch`` (``{msgid, action, time, user}``)
is a device switch, no message (skipped); a line without ``roomid`` at all, or with ``"roomid": null``,
is one-to-one too (Go re-serialisers drop empty fields, others write nil as null); a roomid of
another type (a number, a list) is refused. A recall is ``action: recall, msgtype: revoke, revoke.pre_msgid``:
stored as its own row (kind recall) and the recalled message is flagged.

The body is keyed by the msgtype except where the archive names it otherwise (``BODY_KEYS``: a
robot's ``markdown`` and a ``news`` card under ``info``, ``external_redpacket`` under ``redpacket``,
an online document ``docmsg`` under ``doc``). Text is read from every kind that carries some (a
``news`` card's titles, a ``mixed`` message's text parts), so that detection sees an advertisement
however it was posted. A JSON ``\u0000`` is dropped from every string (PostgreSQL text holds none).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from django.utils.translation import gettext as _

from ...choices import MessageKind
from ...importing.errors import ImportFileError
from ..records import MAX_ID, ChatRecord, Skipped, parse_mentions

KINDS = {
    "text": MessageKind.TEXT,
    "markdown": MessageKind.TEXT,
    "image": MessageKind.IMAGE,
    "emotion": MessageKind.IMAGE,
    "link": MessageKind.LINK,
    "weapp": MessageKind.LINK,
    "redpacket": MessageKind.REDPACKET,
    "external_redpacket": MessageKind.REDPACKET,
    "revoke": MessageKind.RECALL,
    "file": MessageKind.FILE,
    "news": MessageKind.LINK,
    "docmsg": MessageKind.LINK,
    "mixed": MessageKind.TEXT,
}
BODY_KEYS = {"markdown": "info", "news": "info", "external_redpacket": "redpacket", "docmsg": "doc"}
MIN_MS = 946684800000  # 2000-01-01: a msgtime before is seconds, not milliseconds
MAX_MS = 4102444800000  # 2100-01-01: a msgtime beyond is not milliseconds


def _text(value) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _title(value) -> str | None:
    """A link title as stored: text, at most 500 characters, None when empty."""
    text = _text(value)
    return text[:500] if text else None


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value):
    """A JSON value without ``\\u0000`` (dropped: PostgreSQL text holds none) and with a lone
    surrogate escape (half an emoji cut by the archiver) as U+FFFD: neither can be stored."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def _finite(text: str) -> float:
    """A JSON number as json reads it, refusing ``NaN``, ``Infinity`` and ``1e999`` (no JSON number:
    the database's JSON refuses them, and SQLite's INSERT OR IGNORE would drop the row silently)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


# One decoder for every line: ``json.loads`` with hooks builds a new JSONDecoder per call (a fifth of
# the reader's time on a 300,000-line archive).
_decode = json.JSONDecoder(parse_float=_finite, parse_constant=_finite).decode


def _items(body: dict) -> list[dict]:
    items = body.get("item")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _news(record: ChatRecord, body: dict) -> None:
    """图文消息: the first card's link and title; the text is every card's title and description."""
    items = _items(body)
    first = items[0] if items else {}
    record.link_url = _text(first.get("url"))
    record.link_title = _title(first.get("title"))
    parts = [t for i in items for t in (_text(i.get("title")), _text(i.get("description"))) if t]
    record.text = "\n".join(parts) or None


def _mixed(record: ChatRecord, body: dict) -> None:
    """图文混排: the text parts (each ``content`` a JSON string ``{"content": …}``) joined; no text
    at all is an image (or other) message."""
    texts, types = [], set()
    for item in _items(body):
        kind, content = item.get("type"), item.get("content")
        types.add(kind)
        if kind == "text":
            if isinstance(content, str):
                try:
                    content = json.loads(content)
                except ValueError:
                    content = {"content": content}
            text = content.get("content") if isinstance(content, dict) else None
            if isinstance(text, str) and text:
                texts.append(text)
    if texts:
        record.text = "\n".join(texts)
        record.mentions, record.mentions_all = parse_mentions(record.text)
    else:
        record.kind = MessageKind.IMAGE if types & {"image", "emotion"} else MessageKind.OTHER


def read(path: Path, encoding: str) -> Iterator[ChatRecord | Skipped]:
    from . import numbered_lines

    for number, line in numbered_lines(path, encoding):
        if not line.strip():
            continue
        try:
            row = _decode(line)
        except ValueError:
            raise ImportFileError("JSON", _("不是有效的 JSON(每行应是一条解密后的消息)"), row=number) from None
        if not isinstance(row, dict):
            raise ImportFileError("JSON", _("不是 JSON 对象"), row=number)
        if "\\u" in line and ("\\u0000" in line or _ESCAPED_SURROGATE.search(line)):
            row = _clean(row)
        msgid = row.get("msgid")
        if not isinstance(msgid, str) or not msgid.strip():
            raise ImportFileError("msgid", _("缺少消息ID"), row=number)
        if len(msgid) > MAX_ID:
            raise ImportFileError("msgid", _("消息ID过长"), row=number)
        action = row.get("action")
        if action == "switch":
            yield Skipped(number, "switch")
            continue
        if action not in ("send", "recall"):
            raise ImportFileError("action", _("应为 send、recall 或 switch"), row=number)
        roomid = row.get("roomid")
        if roomid is None:  # no roomid, or null: one-to-one, as ""
            roomid = ""
        if not isinstance(roomid, str):
            shown = json.dumps(roomid, ensure_ascii=False)[:30]
            raise ImportFileError(
                "roomid", _("群ID应为字符串(单聊为空字符串),实际为“%(v)s”") % {"v": shown}, row=number
            )
        if roomid == "":
            yield Skipped(number, "one_to_one")
            continue
        sender = row.get("from")
        if not isinstance(sender, str) or not sender.strip():
            raise ImportFileError("from", _("缺少发送人"), row=number)
        if len(sender.strip()) > MAX_ID:
            raise ImportFileError("from", _("发送人ID过长(超过 %(n)s 个字符)") % {"n": MAX_ID}, row=number)
        msgtime = row.get("msgtime")
        if type(msgtime) is not int or not 0 < msgtime < MAX_MS:
            raise ImportFileError("msgtime", _("应为毫秒时间戳(UTC)"), row=number)
        if msgtime < MIN_MS:
            raise ImportFileError(
                "msgtime", _("应为毫秒时间戳(UTC),“%(v)s”早于2000年(是秒吗?)") % {"v": msgtime}, row=number
            )
        msgtype = row.get("msgtype")
        if not isinstance(msgtype, str) or not msgtype:
            raise ImportFileError("msgtype", _("缺少消息类型"), row=number)
        body_key = BODY_KEYS.get(msgtype, msgtype)
        body = row.get(body_key)
        if body is None and body_key != msgtype:
            body_key, body = msgtype, row.get(msgtype)
        if body is not None and not isinstance(body, dict):
            raise ImportFileError(body_key, _("消息内容应为 JSON 对象"), row=number)
        body = body or {}
        record = ChatRecord(
            line=number,
            key=msgid,
            chat=roomid,
            sender_id=sender.strip(),
            sender_name="",
            sent_at=datetime.fromtimestamp(msgtime / 1000, tz=UTC),
            kind=KINDS.get(msgtype, MessageKind.OTHER),
            extra={"msgtype": msgtype},
        )
        if action == "recall" or msgtype == "revoke":
            pre = body.get("pre_msgid")
            if not isinstance(pre, str) or not pre.strip():
                raise ImportFileError("revoke.pre_msgid", _("撤回消息缺少被撤回的消息ID"), row=number)
            record.kind = MessageKind.RECALL
            record.recalls = pre.strip()[:200]
        elif msgtype in ("text", "markdown"):
            content = body.get("content")
            if not isinstance(content, str):
                raise ImportFileError(f"{body_key}.content", _("缺少文本内容"), row=number)
            record.text = content
            record.mentions, record.mentions_all = parse_mentions(content)
        elif msgtype == "news":
            _news(record, body)
        elif msgtype == "mixed":
            _mixed(record, body)
        elif msgtype == "docmsg":
            record.link_url = _text(body.get("link_url"))
            record.link_title = _title(body.get("title"))
        elif msgtype in ("link", "weapp"):
            record.link_url = _text(body.get("link_url"))
            record.link_title = _title(body.get("title"))
            record.text = _text(body.get("description"))
        elif record.kind == MessageKind.REDPACKET:
            record.text = _text(body.get("wish"))
            for name in ("type", "totalcnt", "totalamount"):
                if name in body:
                    record.extra[name] = body[name]
        elif msgtype == "image":
            for name in ("md5sum", "filesize"):
                if name in body:
                    record.extra[name] = body[name]
        elif msgtype == "file":
            record.text = _text(body.get("filename"))
            for name in ("md5sum", "filesize", "fileext"):
                if name in body:
                    record.extra[name] = body[name]
        yield record
