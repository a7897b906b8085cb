"""Reading roster files: CSV in UTF-8 (with or without BOM) or GBK/GB18030, and XLSX.

Files are streamed row by row; nothing holds the whole file. The encoding is decided by one
incremental pass: strict UTF-8 first (a BOM is stripped), then GB18030 (a superset of GBK). UTF-8
Chinese can decode "successfully" as GB18030 into garbage (张三 → 寮犱笁), which is why the
header is checked against the known column names afterwards (columns.map_header).
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from .errors import ImportFileError

CHUNK = 1 << 20
XLSX_MAGIC = b"PK\x03\x04"
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def sniff_kind(head: bytes) -> str | None:
    """'xlsx', 'csv' or None (binary content that is neither) from the first bytes of a file."""
    if head.startswith(XLSX_MAGIC):
        return "xlsx"
    if b"\x00" in head:  # UTF-16 "Unicode text", images, old .xls…
        return None
    return "csv"


def _decodes(path: Path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(path: Path) -> str:
    """The first of UTF-8 (BOM stripped) and GB18030 that decodes the whole file strictly."""
    for encoding in CSV_ENCODINGS:
        if _decodes(path, encoding):
            if encoding == "utf-8-sig":
                with path.open("rb") as fh:
                    return "utf-8-sig" if fh.read(3) == codecs.BOM_UTF8 else "utf-8"
            return encoding
    raise ImportFileError(_("文件"), _("无法识别的文件编码(支持 UTF-8、GBK/GB18030 和 XLSX)"))


@dataclass
class Table:
    """A header and a stream of (row number, cells). Row numbers are as a spreadsheet shows them."""

    path: Path
    kind: str
    encoding: str
    header: list[str] = field(default_factory=list)

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        raw = self._csv_rows() if self.kind == "csv" else self._xlsx_rows()
        next(raw, None)  # the header, read by open_table
        if self.kind == "csv":
            yield from ((n, cells) for n, cells in raw if "".join(cells).strip())  # skip blank lines
        else:
            yield from ((n, cells) for n, cells in raw if any(c is not None and str(c).strip() for c in cells))

    def _csv_rows(self) -> Iterator[tuple[int, list[Any]]]:
        with self.path.open(encoding=self.encoding, newline="") as fh:
            sample = fh.readline()
            fh.seek(0)
            delimiter = "\t" if "\t" in sample and "," not in sample else ","
            reader = csv.reader(fh, delimiter=delimiter)
            number = 0
            while True:
                number += 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ImportFileError(_("文件"), _("CSV 格式错误: %(e)s") % {"e": exc}, row=number) from exc
                yield number, cells

    def _xlsx_rows(self) -> Iterator[tuple[int, list[Any]]]:
        from openpyxl import load_workbook

        try:
            # data_only=False: a formula cell gives its text ("=1+1"), stored as text, never evaluated.
            book = load_workbook(self.path, read_only=True, data_only=False)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise ImportFileError(_("文件"), _("不是有效的 XLSX 文件")) from exc
        try:
            sheet = book.worksheets[0]
            for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(cells)
        finally:
            book.close()


def open_table(path: str | Path) -> Table:
    """Open a CSV or XLSX file and read its header row. Raises ImportFileError when unreadable."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head.strip():
        raise ImportFileError(_("文件"), _("文件为空"))
    kind = sniff_kind(head)
    if kind is None:
        raise ImportFileError(_("文件"), _("不是 CSV 或 XLSX 文件(或编码不受支持,如 UTF-16)"))
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
    if not table.header:
        raise ImportFileError(_("文件"), _("文件为空"))
    return table


def count_rows(path: str | Path) -> int:
    """A cheap estimate of the data rows (lines minus the header) for progress bars."""
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(4)
        if head.startswith(XLSX_MAGIC):
            return _xlsx_row_count(path)
        fh.seek(0)
        lines, last = 0, b""
        while chunk := fh.read(CHUNK):
            lines += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    return max(lines - 1, 0)


def _xlsx_row_count(path: Path) -> int:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return 0
    try:
        sheet = book.worksheets[0]
        rows = sheet.max_row
        if rows is None:  # no <dimension> element (write-only generators): count by streaming the rows
            rows = sum(1 for _row in sheet.iter_rows(values_only=True))
        return max(rows - 1, 0)
    finally:
        book.close()
