"""One reader per export format; each is a generator of ChatRecord / Skipped (never the whole file).

``read_chat(path, platform)`` picks the reader; ``detect_platform(path)`` recognises a format from its
first bytes (a JSON object → WeCom; the WeChatMsg CSV header → WeChat; the QQ title line → QQ).
Errors are ``groups.importing.errors.ImportFileError`` naming the line and the field, in Chinese.
Lines end as the roster import's do (``groups.importing.readers``): LF, CRLF, a lone CR, or CRs
before an LF (CR CR LF), one line end however many CRs.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from django.utils.translation import gettext as _

from ...choices import Platform
from ...importing.errors import ImportFileError
from ...importing.readers import detect_encoding, text_lines
from ..records import ChatRecord, Skipped


def numbered_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """Numbered lines (1-based) without their line ends or the BOM, streamed."""
    with path.open(encoding=encoding, newline="") as fh:
        for number, line in enumerate(text_lines(fh), start=1):
            if number == 1:
                line = line.lstrip("\ufeff")
            yield number, line.rstrip("\r\n")


from . import qq, wechatmsg, wecom  # noqa: E402  (they use numbered_lines above)

READERS = {Platform.WECOM: wecom.read, Platform.WECHAT: wechatmsg.read, Platform.QQ: qq.read}
SUPPORTED = tuple(READERS)


def detect_platform(path: str | Path) -> str | None:
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4096)
    for bom, encoding in ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"), (codecs.BOM_UTF8, "utf-8")):
        if head.startswith(bom):
            text = head.decode(encoding, "ignore").lstrip("\ufeff")
            break
    else:
        try:  # incremental: a character cut at the 4,096th byte is not an error
            text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        except UnicodeDecodeError:
            text = head.decode("gb18030", "ignore")
    text = text.lstrip()
    if text.startswith("{"):
        return Platform.WECOM
    first = re.split("[\r\n]", text, maxsplit=1)[0]
    if text.startswith("localId,") or all(name in first for name in ("localId", "TalkerId", "StrContent")):
        return Platform.WECHAT  # the WeChatMsg header, its columns in any order
    if text.startswith(("消息记录", "=" * 16)):
        return Platform.QQ
    return None


def read_chat(path: str | Path, platform: str) -> tuple[str, Iterator[ChatRecord | Skipped]]:
    """(encoding, records) of a chat export. Raises ImportFileError for an unreadable file."""
    path = Path(path)
    if platform not in READERS:
        raise ImportFileError(_("平台"), _("不支持此平台的聊天记录"))
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = head.decode("utf-16", "ignore").encode("utf-8")
    if not head.strip():  # Notepad saves an empty file as its BOM alone
        raise ImportFileError(_("文件"), _("文件为空"))
    # As the roster import decides it: one pass, every line in one encoding (a NUL or a mix refused).
    encoding = detect_encoding(path)
    return encoding, READERS[platform](path, encoding)
