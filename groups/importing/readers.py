"""Reading roster files: CSV in UTF-8 (with or without BOM), GBK/GB18030 or UTF-16, and XLSX.

Files are streamed row by row; nothing holds the whole file. The encoding is decided by one
incremental pass over the lines: every line with non-ASCII bytes must decode in the same encoding
(UTF-8, else GB18030, a superset of GBK). A file whose lines mix UTF-8 and GBK (rows pasted
together from two exports) is refused naming the first line that does not fit, instead of
importing garbled names (张三 read as GB18030 gives 寮犱笁). UTF-16 with a BOM is what Excel writes
as "Unicode text" (tab-separated). A NUL byte anywhere is refused with its line.

A line ends at an LF, a CRLF, a lone CR (old Mac, some exporters) or CRs before an LF (CR CR LF:
a Windows tool that doubled the CR), one line end however many CRs: the encoding check, the line
count of progress bars (``count_lines``) and the text readers (``text_lines``, shared with the
chat readers) number the lines alike.

Hostile files are refused before they are parsed (``check_xlsx``): an XLSX is a zip, and its
declared uncompressed sizes (which ``zipfile`` enforces while decompressing) and compression
ratios are checked against settings, then the sheet's ``<dimension>``; while streaming, rows and
columns are counted against the caps again (a sheet may omit or lie in its dimension).
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import chain
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext as _

from .errors import ImportFileError

CHUNK = 1 << 20
XLSX_MAGIC = b"PK\x03\x04"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
RATIO_CHECKED_FROM = 1 << 20  # small members (styles, themes) may compress any way they like
_DIMENSION_RE = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([^\"]*)\"")
_CELL_RE = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")
# CRs before an LF are one line end (CR CR LF); a CR before anything else ends a line of its own.
_LINE_END = re.compile(rb"\r*\n|\r")


def max_rows() -> int:
    return settings.ROSTER_MAX_ROWS


def max_columns() -> int:
    return settings.ROSTER_MAX_COLUMNS


def sniff_kind(head: bytes) -> str | None:
    """'xlsx', 'csv' or None (binary content that is neither) from the first bytes of a file."""
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if head.startswith(UTF16_BOMS):  # Excel's "Unicode text": UTF-16 with a BOM
        return "csv"
    if b"\x00" in head:  # UTF-16 without a BOM, images, old .xls…
        return None
    return "csv"


def _too_many_rows() -> str:
    return _("行数超过上限 %(n)s 行,请拆分文件后分批导入") % {"n": max_rows()}


def _too_many_columns() -> str:
    return _("列数超过上限 %(n)s 列") % {"n": max_columns()}


def _nul(line: int, data: bytes = b"") -> ImportFileError:
    if _looks_utf16(data):
        return ImportFileError(_("文件"), _("文件似乎是不带 BOM 的 UTF-16 编码,请另存为 UTF-8 后再导入"), row=line)
    return ImportFileError(_("文件"), _("包含空字符(NUL),文件已损坏或不是文本文件"), row=line)


def _looks_utf16(data: bytes) -> bool:
    """A line of UTF-16 text without its BOM: a NUL in every other byte (ASCII letters and digits,
    in little- or big-endian order), not a stray NUL in a text file."""
    if len(data) < 8:
        return False
    even, odd = data[0::2], data[1::2]
    return max(even.count(0) / len(even), odd.count(0) / len(odd)) >= 0.6


def _whole_line_ends(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks`` again, never cut inside a run of CRs: what follows the run decides whether it is
    one line end (CRs before an LF) or a line end per CR. No piece is empty; memory stays flat
    however long the run (a file of nothing but CRs)."""
    crs = 0  # the CRs that ended the pieces so far, held until what follows them is known
    for chunk in chunks:
        if crs:
            body = chunk.lstrip(b"\r")
            crs += len(chunk) - len(body)
            if not body:
                continue
            if body[:1] == b"\n":
                yield b"\r\n"  # CRs before an LF: one line end
                body = body[1:]
            else:
                yield from _lone_crs(crs)
            crs, chunk = 0, body
        kept = chunk.rstrip(b"\r")
        crs = len(chunk) - len(kept)
        if kept:
            yield kept
    if crs:
        yield from _lone_crs(crs)


def _lone_crs(count: int) -> Iterator[bytes]:
    while count > 0:
        yield b"\r" * min(count, CHUNK)
        count -= CHUNK


def _count_line_ends(piece: bytes) -> int:
    """The line ends in a piece of ``_whole_line_ends`` (no run of CRs cut off at its end)."""
    crs = piece.count(b"\r")
    if not crs:
        return piece.count(b"\n")
    lfs = piece.count(b"\n")
    if not lfs:
        return crs
    if crs == piece.count(b"\r\n"):  # CRLF only
        return lfs
    return len(_LINE_END.findall(piece))


def _chunks(fh: IO[bytes]) -> Iterator[bytes]:
    return iter(partial(fh.read, CHUNK), b"")


def _utf16_as_utf8(chunks: Iterable[bytes], errors: str = "strict") -> Iterator[bytes]:
    """UTF-16 (its BOM read) as UTF-8, so that its lines are split as any other file's."""
    decoder = codecs.getincrementaldecoder("utf-16")(errors=errors)
    for chunk in chunks:
        yield decoder.decode(chunk).encode()
    yield decoder.decode(b"", final=True).encode()


def text_lines(fh: IO[str]) -> Iterator[str]:
    """The lines of a text file opened with ``newline=""``, each with its line end, as Python reads
    them (LF, CRLF, a lone CR) except that CRs before an LF are one line end: ``"a\\r\\r\\n"`` is the
    line ``"a\\r\\n"``, not ``"a\\r"`` and a blank ``"\\r\\n"``. For csv too (a quoted cell keeps
    its line ends as the CRLF file has them)."""
    held, crs = None, 0  # a line ended by a CR and the blank CR lines after it: maybe CRs before an LF
    for line in fh:
        if held is not None:
            if line == "\r":
                crs += 1
                continue
            if line == "\r\n":
                yield held + "\n"
                held, crs = None, 0
                continue
            yield held
            for _blank in range(crs):
                yield "\r"
            held, crs = None, 0
        if line[-1:] == "\r":
            held = line
        else:
            yield line
    if held is not None:
        yield held
        for _blank in range(crs):
            yield "\r"


def count_lines(path: str | Path) -> int:
    """The lines of a text file, numbered as the readers number them (a last line without its line
    end counts): the total of a progress bar of lines read. UTF-16 (BOM) is decoded; any other
    encoding is counted in bytes (no UTF-8 or GBK sequence holds a CR or LF byte)."""
    path = Path(path)
    with path.open("rb") as fh:
        utf16 = fh.read(2) in UTF16_BOMS
        fh.seek(0)
        return _counted(_utf16_as_utf8(_chunks(fh), "replace") if utf16 else _chunks(fh))


def _counted(chunks: Iterable[bytes]) -> int:
    lines, last = 0, None
    for piece in _whole_line_ends(chunks):
        lines += _count_line_ends(piece)
        last = piece
    if last is not None and last[-1:] not in (b"\r", b"\n"):
        lines += 1  # the last line, without its line end
    return lines


def detect_encoding(path: Path) -> str:
    """The one encoding every line decodes in: UTF-8 (BOM noted), GB18030 or UTF-16 (BOM).

    Raises ImportFileError naming the first line that contains a NUL or that does not decode in
    the encoding of the lines before it.
    """
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(UTF16_BOMS):
        return _check_utf16(path)
    utf8_line = gbk_line = 0  # the first line that only UTF-8 / only GB18030 decodes
    number, rest = 0, b""
    with path.open("rb") as fh:
        # Every line end (see the module): a file of lone CRs is lines too, not one line the size of
        # the file held in memory (no GBK or UTF-8 sequence holds a CR or LF byte). The empty piece
        # at the end reads the last line (one without its line end).
        for piece in chain(_whole_line_ends(_chunks(fh)), [b""]):
            lines = _LINE_END.split(rest + piece)
            rest = lines.pop() if piece else b""
            for line in lines:
                number += 1
                if line.isascii():
                    if b"\x00" in line:
                        raise _nul(number, line)
                    continue
                if b"\x00" in line:
                    raise _nul(number, line)
                if number == 1 and line.startswith(codecs.BOM_UTF8):
                    line = line[3:]
                if _decodes(line, "utf-8"):
                    if utf8_line:
                        continue  # UTF-8 is known already: whether this line is evidence does not matter
                    if _weak_utf8(line) and _decodes(line, "gb18030"):
                        continue  # GBK "[图片]" is also valid UTF-8 ("[ͼƬ]"): evidence for neither
                    utf8_line = number
                elif _decodes(line, "gb18030"):
                    gbk_line = gbk_line or number
                else:
                    raise ImportFileError(
                        _("文件"), _("无法识别的文件编码(支持 UTF-8、GBK/GB18030、UTF-16 和 XLSX)"), row=number
                    )
                if utf8_line and gbk_line:
                    raise ImportFileError(
                        _("文件"),
                        _("文件混用了 UTF-8 和 GBK 编码(第%(a)s行是 UTF-8,第%(b)s行是 GBK),请统一保存为一种编码")
                        % {"a": utf8_line, "b": gbk_line},
                        row=max(utf8_line, gbk_line),
                    )
    if gbk_line:
        return "gb18030"
    with path.open("rb") as fh:
        return "utf-8-sig" if fh.read(3) == codecs.BOM_UTF8 else "utf-8"


def _weak_utf8(data: bytes) -> bool:
    """Valid UTF-8 with no character from U+0800 on (no CJK): GBK bytes often read so by chance
    (two-byte GBK characters whose bytes fall in UTF-8's two-byte ranges)."""
    return max(data.decode("utf-8"), default="") < "\u0800"  # a line of the BOM alone: empty


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _check_utf16(path: Path) -> str:
    number = 1
    try:
        with path.open("rb") as fh:
            for piece in _whole_line_ends(_utf16_as_utf8(_chunks(fh))):
                if b"\x00" in piece:
                    raise _nul(number + _count_line_ends(piece[: piece.index(b"\x00")]))
                number += _count_line_ends(piece)
    except UnicodeDecodeError:
        raise ImportFileError(_("文件"), _("UTF-16 文件无法解码(文件可能已损坏)"), row=number) from None
    return "utf-16"


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - 64
    return number


def check_xlsx(path: Path) -> None:
    """Refuse a zip bomb or an oversized sheet before openpyxl parses anything.

    Checks the archive's declared uncompressed sizes (total and per member ratio) and the first
    sheet's ``<dimension>`` against ROSTER_XLSX_MAX_UNCOMPRESSED_MB, ROSTER_XLSX_MAX_RATIO,
    ROSTER_MAX_ROWS and ROSTER_MAX_COLUMNS.
    """
    limit = settings.ROSTER_XLSX_MAX_UNCOMPRESSED_MB * 1024 * 1024
    ratio = settings.ROSTER_XLSX_MAX_RATIO
    refused = _("文件解压后过大(疑似压缩炸弹),已拒绝;请另存为普通 XLSX 或 CSV 后重试")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if sum(m.file_size for m in members) > limit:
                raise ImportFileError(_("文件"), refused)
            for member in members:
                if member.file_size > RATIO_CHECKED_FROM and member.file_size > ratio * max(member.compress_size, 1):
                    raise ImportFileError(_("文件"), refused)
            for member in members:
                if re.fullmatch(r"xl/worksheets/[^/]+\.xml", member.filename):
                    with archive.open(member) as fh:
                        _check_dimension(fh.read(4096))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise ImportFileError(_("文件"), _("不是有效的 XLSX 文件")) from exc


def _check_dimension(head: bytes) -> None:
    match = _DIMENSION_RE.search(head)
    if not match:
        return
    last = match.group(1).decode("ascii", "replace").split(":")[-1].upper()
    cell = _CELL_RE.match(last)
    if not cell:
        return
    if int(cell.group(2)) - 1 > max_rows():
        raise ImportFileError(_("文件"), _too_many_rows())
    if _column_number(cell.group(1)) > max_columns():
        raise ImportFileError(_("文件"), _too_many_columns())


@dataclass
class Table:
    """A header and a stream of (row number, cells). Row numbers are as a spreadsheet shows them.

    Rows beyond ROSTER_MAX_ROWS, or cells beyond ROSTER_MAX_COLUMNS, raise ImportFileError.
    """

    path: Path
    kind: str
    encoding: str
    header: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        raw = self._csv_rows() if self.kind == "csv" else self._xlsx_rows()
        next(raw, None)  # the header, read by open_table
        limit = max_rows() + 1
        for number, cells in raw:
            if number > limit:
                raise ImportFileError(_("文件"), _too_many_rows(), row=number)
            if self.kind == "csv":
                if not "".join(cells).strip():
                    continue  # blank lines
            elif not any(c is not None and str(c).strip() for c in cells):
                continue
            if any(type(c) is str and "\x00" in c for c in cells):
                raise _nul(number)
            yield number, cells

    def _csv_rows(self) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open(encoding=self.encoding, newline="") as fh:
            sample = fh.readline()
            fh.seek(0)
            delimiter = "\t" if "\t" in sample and "," not in sample else ","
            # strict: an unterminated or stray quote is an error, not a field that swallows the file
            reader = csv.reader(text_lines(fh), delimiter=delimiter, strict=True)
            number, width = 0, max_columns()
            while True:
                number += 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ImportFileError(_("文件"), _csv_reason(exc), row=number) from exc
                if len(cells) > width:
                    raise ImportFileError(_("文件"), _too_many_columns(), row=number)
                yield number, cells

    def _xlsx_rows(self) -> Iterator[tuple[int, list[Any]]]:
        check_xlsx(self.path)
        book = _open_workbook(self.path)
        width = max_columns()
        try:
            sheet = book.worksheets[0]
            # max_col bounds openpyxl's padding of short rows (to the checked <dimension>, else to the
            # cap); one column more shows a row too wide. Trailing empty cells are dropped.
            bound = min(sheet.max_column or width + 1, width + 1)
            for number, cells in enumerate(sheet.iter_rows(values_only=True, max_col=bound), start=1):
                if len(cells) > width and cells[width] is not None:
                    raise ImportFileError(_("文件"), _too_many_columns(), row=number)
                end = min(len(cells), width)
                while end and cells[end - 1] is None:
                    end -= 1
                yield number, list(cells[:end])
        except (zipfile.BadZipFile, KeyError, OSError, EOFError, SyntaxError) as exc:
            raise ImportFileError(_("文件"), _("不是有效的 XLSX 文件(读取时出错)")) from exc
        finally:
            book.close()


def _open_workbook(path: Path):
    """openpyxl's read-only workbook, from the open file: its name's suffix (an XLSX saved as
    .csv) does not matter. Raises ImportFileError when it is no workbook."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    handle = path.open("rb")  # read-only books keep reading from it: closed with the book
    try:
        # data_only=False: a formula cell gives its text ("=1+1"), stored as text, never evaluated.
        book = load_workbook(handle, read_only=True, data_only=False)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, EOFError, SyntaxError) as exc:
        handle.close()
        raise ImportFileError(_("文件"), _("不是有效的 XLSX 文件")) from exc
    original_close = book.close

    def close() -> None:
        original_close()
        handle.close()

    book.close = close
    return book


def _csv_reason(exc: csv.Error) -> str:
    message = str(exc)
    if "unexpected end of data" in message or "EOF" in message:
        return _("引号未闭合:从本行开始的带引号字段一直没有结束引号")
    if "expected after" in message:
        return _("引号使用错误:带引号的字段在结束引号后还有字符")
    if "field larger than field limit" in message:
        return _("字段过长")
    return _("CSV 格式错误")


def open_table(path: str | Path) -> Table:
    """Open a CSV or XLSX file and read its header row. Raises ImportFileError when unreadable."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise ImportFileError(_("文件"), _("文件为空"))
    kind = sniff_kind(head)
    if kind is None:
        raise ImportFileError(_("文件"), _("不是 CSV 或 XLSX 文件(或编码不受支持,如没有 BOM 的 UTF-16)"))
    table = Table(path, kind, "xlsx" if kind == "xlsx" else detect_encoding(path))
    raw = table._csv_rows() if kind == "csv" else table._xlsx_rows()
    try:
        for _number, cells in raw:
            table.header = ["" if c is None else str(c).strip() for c in cells]
            break
    finally:
        raw.close()
    while table.header and not table.header[-1]:
        table.header.pop()
    if not table.header or not "".join(table.header).replace("\ufeff", "").strip():
        raise ImportFileError(_("文件"), _("文件为空"))
    if any("\x00" in h for h in table.header):
        raise _nul(1)
    return table


def count_rows(path: str | Path) -> int:
    """A cheap estimate of the data rows (lines minus the header, ``count_lines``) for progress bars.

    Never parses more than the caps allow: an XLSX is checked (check_xlsx) and its rows counted
    from the sheet's dimension, or streamed up to ROSTER_MAX_ROWS; an unreadable file counts 0
    (validation then reports why).
    """
    path = Path(path)
    with path.open("rb") as fh:
        if fh.read(4).startswith(XLSX_MAGIC):
            return _xlsx_row_count(path)
    return min(max(count_lines(path) - 1, 0), max_rows() + 1)


def _xlsx_row_count(path: Path) -> int:
    try:
        check_xlsx(path)
        book = _open_workbook(path)
    except ImportFileError:
        return 0
    try:
        sheet = book.worksheets[0]
        rows = sheet.max_row
        if rows is None:  # no <dimension> element (write-only generators): count by streaming the rows
            rows = 0
            for _row in sheet.iter_rows(values_only=True, max_col=1):
                rows += 1
                if rows > max_rows() + 1:
                    break
        return min(max(rows - 1, 0), max_rows() + 1)
    except Exception:  # a broken sheet: validation reports it with its reason
        return 0
    finally:
        book.close()
