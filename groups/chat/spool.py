"""The preview pass's records, kept for the write: the file is parsed once.

While the preview validates a chat export it writes every group message it read to a spool file
next to the upload (``MEDIA_ROOT/imports/chat/rows-<job id>.tsv``) in PostgreSQL's COPY text format:
one line per message, ``SPOOL_COLUMNS`` tab-separated, ``\\N`` for NULL. The confirm step then
hands that file as it is to ``COPY`` (PostgreSQL) or reads it back line by line (other databases)
instead of parsing the export a second time. The spool holds message bodies: it is deleted with the
upload (done, invalid, cancelled, expired).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from django.conf import settings

from .records import ChatRecord

# The conversation and the sender first: the write keeps the accepted conversations and adds the
# sender's match by splitting off these two, without decoding the rest.
SPOOL_COLUMNS = (
    "chat", "sender_platform_id", "natural_key", "sender_name", "sent_at", "kind", "text", "link_url",
    "link_title", "mentions", "mentions_all", "recalls", "extra",
)  # fmt: skip
NULL = "\\N"
_SPECIAL = re.compile(r"[\\\t\n\r]")
_ESCAPES = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPED = re.compile(r"\\(.)")
_UNESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r"}


def spool_path(job_pk: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / "chat" / f"rows-{job_pk}.tsv"


def escape(value: str | None) -> str:
    """A value as a COPY text field."""
    if value is None:
        return NULL
    if _SPECIAL.search(value):
        return _SPECIAL.sub(lambda m: _ESCAPES[m.group()], value)
    return value


_encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps with options makes one per call


def _json(value: Any, empty: str) -> str:
    return escape(_encode(value)) if value else empty


def line(r: ChatRecord) -> str:
    """One record as a COPY text line (``SPOOL_COLUMNS``)."""
    return "\t".join(
        (
            escape(r.chat), escape(r.sender_id), escape(r.key), escape(r.sender_name), r.sent_at.isoformat(),
            r.kind, escape(r.text), escape(r.link_url), escape(r.link_title), _json(r.mentions, "[]"),
            "t" if r.mentions_all else "f", escape(r.recalls), _json(r.extra, "{}"),
        )
    ) + "\n"  # fmt: skip


@contextmanager
def writing(job_pk: int) -> Iterator[IO[str]]:
    """A new spool for the job, in place only when the block ends without an error (a failed or
    interrupted preview leaves no half spool for the write to trust)."""
    path = spool_path(job_pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            yield out
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def discard(job_pk: int) -> None:
    spool_path(job_pk).unlink(missing_ok=True)
    spool_path(job_pk).with_suffix(".partial").unlink(missing_ok=True)


def _field(value: str) -> str | None:
    if value == NULL:
        return None
    return _ESCAPED.sub(lambda m: _UNESCAPES[m.group(1)], value) if "\\" in value else value


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The spooled messages as model field values (for databases without COPY)."""
    with path.open(encoding="utf-8", newline="") as fh:
        for text in fh:
            values = dict(zip(SPOOL_COLUMNS, map(_field, text.rstrip("\n").split("\t")), strict=True))
            values["sent_at"] = datetime.fromisoformat(values["sent_at"])
            values["mentions"] = json.loads(values["mentions"])
            values["extra"] = json.loads(values["extra"])
            values["mentions_all"] = values["mentions_all"] == "t"
            values["recalls"] = values["recalls"] or ""
            values["sender_platform_id"] = values["sender_platform_id"] or ""
            values["sender_name"] = values["sender_name"] or ""
            yield values
