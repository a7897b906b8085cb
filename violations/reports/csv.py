"""The CSV report: UTF-8 with a BOM (Excel in China opens it) or GBK, streamed in chunks."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator

from django.db import connection
from django.utils.translation import gettext as _

from portal.exports import neutralize

from .params import ReportError
from .rows import columns
from .sql import CHUNK_SIZE, csv_copy_bytes, iter_chunks

ENCODINGS = ("utf-8-sig", "gbk")


def csv_chunks(
    qs,
    encoding: str = "utf-8-sig",
    chunk_size: int = CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[bytes]:
    """The CSV file as byte chunks: a BOM for UTF-8, then the header and ``chunk_size`` rows at a time."""
    if encoding not in ENCODINGS:
        raise ReportError("encoding", _("编码只能是 %(choices)s。") % {"choices": " / ".join(ENCODINGS)})
    codec = "utf-8" if encoding == "utf-8-sig" else "gbk"
    buffer = io.StringIO()
    postgres = connection.vendor == "postgresql"
    writer = csv.writer(buffer, lineterminator="\n" if postgres else "\r\n")  # COPY ends lines with \n
    writer.writerow([neutralize(c) for c in columns()])
    head = buffer.getvalue().encode(codec, "replace")
    yield (codecs.BOM_UTF8 + head) if encoding == "utf-8-sig" else head
    done = 0
    if postgres:  # the database writes the CSV itself (faster than formatting in Python: bench/README.md)
        for rows, body in csv_copy_bytes(qs, codec, chunk_size):
            yield body
            done += rows
            if on_progress is not None:
                on_progress(done)
        return
    for chunk in _csv_rows(qs, chunk_size):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(chunk)
        yield buffer.getvalue().encode(codec, "replace")
        done += len(chunk)
        if on_progress is not None:
            on_progress(done)


def _csv_rows(qs, chunk_size: int) -> Iterator[list]:
    """Chunks of CSV rows where PostgreSQL's COPY is not available: RowFormatter in Python."""
    yield from iter_chunks(qs, chunk_size, as_text=True)


def write_csv(path: str, qs, *, encoding: str = "utf-8-sig", on_progress: Callable[[int], None] | None = None) -> int:
    """Write the CSV report to ``path``; returns the number of detail rows."""
    counted = [0]

    def progress(done: int) -> None:
        counted[0] = done
        if on_progress is not None:
            on_progress(done)

    with open(path, "wb") as handle:
        for chunk in csv_chunks(qs, encoding, on_progress=progress):
            handle.write(chunk)
    return counted[0]
