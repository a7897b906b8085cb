"""The chat archive (会话内容存档) into the chat evidence pipeline, resuming after the last ``seq``.

``GetChatData`` returns *encrypted* records (``seq, msgid, publickey_ver, encrypt_random_key,
encrypt_chat_msg``, doc path 91774); decrypting them needs WeCom's own SDK (a native library,
``libWeWorkFinanceSdk_C.so``) and the company's RSA private key, which stay with the company.
The portal therefore does not call GetChatData itself. The company runs the SDK (its sample
program or a small loop around ``GetChatData`` → ``DecryptData``) and writes each plaintext as one
JSON line into ``WECOM_ARCHIVE_DIR``, adding the envelope's ``seq`` to the object:

    {"seq": 196, "msgid": "…", "action": "send", "from": "…", "tolist": […], "roomid": "…",
     "msgtime": 1793581205000, "msgtype": "text", "text": {"content": "…"}}

The sync reads every ``*.jsonl`` file there (in name order), keeps the lines with a ``seq`` above
the stored one (``WeComArchiveState``), splits them by ``roomid`` and imports each room's lines
through the chat import (``store.import_chat_file``: the same validation, sender matching,
``ON CONFLICT DO NOTHING`` on msgid and recalls as an uploaded export). The stored ``seq`` moves
only when every room imported, so a run killed half-way (or a refused room) reads the same lines
again next time, and the natural key keeps them from being stored twice. The SDK runner resumes
its own GetChatData from ``seq`` (the ``seq`` file in that directory, written after each import).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..choices import ImportStatus, Platform
from ..models import ChatGroup, WeComArchiveState
from .mapping import MappingError

SEQ_FILE = "seq"  # the last seq imported, for the SDK runner to resume GetChatData from


@dataclass
class ArchiveBatch:
    """The new lines, split by room into files under ``workdir``."""

    workdir: Path
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last_seq: int = 0
    lines: int = 0


def _lines(directory: Path) -> Iterator[tuple[str, int, dict]]:
    for path in sorted(directory.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise MappingError(f"{path.name} 第{number}行: 不是有效的 JSON") from None
                seq = row.get("seq") if isinstance(row, dict) else None
                if type(seq) is not int or seq < 0:
                    raise MappingError(f"{path.name} 第{number}行, seq: 缺少(SDK 程序应写入 GetChatData 的 seq)")
                yield path.name, seq, row


def scan(directory: Path, after: int, workdir: Path) -> ArchiveBatch:
    """Split the lines with seq > ``after`` by room (one-to-one chats and switches are left to the
    reader, which skips them)."""
    batch = ArchiveBatch(workdir, last_seq=after)
    handles: dict[str, Any] = {}
    try:
        for _name, seq, row in _lines(directory):
            if seq <= after:
                continue
            batch.last_seq = max(batch.last_seq, seq)
            room = row.get("roomid")
            if not isinstance(room, str) or not room:
                continue
            handle = handles.get(room)
            if handle is None:
                batch.files[room] = workdir / f"room-{len(handles)}.jsonl"
                handle = handles[room] = batch.files[room].open("w", encoding="utf-8")
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            batch.counts[room] = batch.counts.get(room, 0) + 1
            batch.lines += 1
    finally:
        for handle in handles.values():
            handle.close()
    return batch


def import_batch(batch: ArchiveBatch, groups: dict[str, ChatGroup], *, acting_user) -> tuple[dict, list[str]]:
    """Import each room that has a portal group; returns (counts, errors)."""
    from ..chat.store import import_chat_file

    counts = {"archive_rooms": 0, "archive_messages": 0, "archive_created": 0, "archive_unknown_rooms": 0}
    errors: list[str] = []
    for room, path in batch.files.items():
        group = groups.get(room)
        if group is None:
            counts["archive_unknown_rooms"] += 1
            continue
        job = import_chat_file(path, group=group, acting_user=acting_user, platform=Platform.WECOM)
        if job.status != ImportStatus.DONE:
            errors.extend(f"会话存档 {group.name}: {e}" for e in (job.errors or [job.get_status_display()]))
            continue
        counts["archive_rooms"] += 1
        counts["archive_messages"] += job.message_count
        counts["archive_created"] += job.created_count
    return counts, errors


def advance(directory: Path, seq: int) -> None:
    state = WeComArchiveState.load()
    if seq > state.seq:
        state.seq = seq
        state.save(update_fields=["seq", "updated_at"])
    with contextlib.suppress(OSError):  # a read-only drop directory: the runner keeps its own position
        (directory / SEQ_FILE).write_text(f"{max(seq, state.seq)}\n", encoding="ascii")


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="qungui-archive-")
