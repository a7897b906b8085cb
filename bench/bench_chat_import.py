"""Chat import benchmark: Qungui's import of a generated WeCom archive against a bare COPY of the
same rows into the message table, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_bench python bench/bench_chat_import.py [--rows 1000000]

On a throw-away test database (test_<name>) of the configured PostgreSQL:
(a) the floor: the rows Qungui would store, already converted, written to a file; ``COPY
    groups_chatmessage (…) FROM STDIN`` of that file into the empty table (its indexes and
    constraints in place) — only the COPY is timed;
(b) Qungui's import of the JSONL file (encoding check; the one parse pass: validation, preview and
    the spool of COPY lines; the write transaction, which COPYs the spool straight into the table
    when no stored message overlaps the file), in a child process that reports its peak RSS
    (VmHWM, bench/memory.py);
(c) the re-import of the same file (nothing new: through a temporary table + ON CONFLICT).
The load average is printed before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

ROOM = "wrBenchRoom000000000000000000001"
START_MS = 1793581205000
WORDS = ["收到", "好的", "明天几点开会", "客户回访表已发", "请大家注意", "本季度销售目标", "限时特惠", "谢谢"]


def generate(path: Path, rows: int, senders: int = 500, seed: int = 16) -> None:
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            sender = f"user{rnd.randrange(senders):04d}"
            base = {"msgid": f"b{i:09d}", "action": "send", "from": sender, "tolist": [], "roomid": ROOM,
                    "msgtime": START_MS + i * 1500}  # fmt: skip
            roll = rnd.random()
            if roll < 0.85:
                text = "".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 6)))
                if roll < 0.05:
                    text = "@所有人 " + text
                base.update(msgtype="text", text={"content": text})
            elif roll < 0.95:
                base.update(msgtype="image", image={"sdkfileid": "x", "md5sum": f"{i:032x}", "filesize": 1000 + i})
            else:
                base.update(
                    msgtype="link", link={"title": "标题", "description": "说明", "link_url": f"http://e.x/{i}"}
                )
            fh.write(json.dumps(base, ensure_ascii=False) + "\n")


def vm_hwm_mib() -> float:
    from memory import peak_mib

    return peak_mib()


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _use_test_db(name: str) -> None:
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    from django.db import connections

    connections["default"].settings_dict["NAME"] = name


def child_import(path: Path, group_id: int) -> None:
    """Run in a child: import the file, print seconds, created count and VmHWM (MiB)."""
    from groups.chat.store import import_chat_file
    from groups.models import ChatGroup
    from groups.signals import chat_imported

    # The import alone: the detection it queues runs in a Celery worker in production, but here, with
    # tasks in-process, it would run inside the import's call and be timed with it (the whole group's
    # month: 441.6 s of the 1M-message import measured so).
    chat_imported.disconnect(dispatch_uid="violations_detect_after_chat_import")
    group = ChatGroup.objects.get(pk=group_id)
    before = vm_hwm_mib()
    start = time.perf_counter()
    job = import_chat_file(path, group=group, acting_user=None, platform="wecom")
    seconds = time.perf_counter() - start
    print(f"{seconds:.3f} {job.created_count} {job.status} {before:.1f} {vm_hwm_mib():.1f}")


def run_child(path: Path, db_name: str, group_id: int) -> tuple[float, int, str, float, float]:
    env = {**os.environ, "BENCH_TEST_DB": db_name}
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--group", str(group_id)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"the import failed:\n{out.stderr[-3000:]}")
    seconds, created, status, before, peak = out.stdout.split()[-5:]
    return float(seconds), int(created), status, float(before), float(peak)


def floor_copy(path: Path, rows_file: Path, group, job) -> float:
    """Write the converted rows to a file (untimed), then time one COPY of it into the table."""
    from django.db import connection, transaction

    from groups.chat.readers import read_chat
    from groups.chat.store import COPY_COLUMNS
    from groups.models import ChatMessage

    table = ChatMessage._meta.db_table
    names = ", ".join(COPY_COLUMNS)
    now = "2026-12-02 00:00:00+00"
    _enc, records = read_chat(path, "wecom")

    def esc(value) -> str:
        if value is None:
            return "\\N"
        text = str(value)
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    with rows_file.open("w", encoding="utf-8") as out:
        for r in records:
            values = (group.pk, "wecom", r.key, job.pk, r.sender_id, r.sender_name, None, None,
                      r.sent_at.isoformat(), r.kind, r.text, r.link_url, r.link_title,
                      json.dumps(r.mentions, ensure_ascii=False), "t" if r.mentions_all else "f", "f", None,
                      r.recalls, json.dumps(r.extra, ensure_ascii=False), None, now)  # fmt: skip
            out.write("\t".join(esc(v) for v in values) + "\n")
    start = time.perf_counter()
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        rows_file.open("rb") as fh,
    ):
        while chunk := fh.read(1 << 20):
            copy.write(chunk)
    seconds = time.perf_counter() - start
    return seconds


def truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # CASCADE: the detections' message links reference the table (empty in this bench's database)
        cursor.execute("TRUNCATE groups_chatmessage CASCADE")


def run(args, db_name: str) -> None:
    from django.db import connection

    from groups.chat.models import ChatImport
    from groups.models import ChatGroup
    from groups.services import ensure_department_path

    dept = ensure_department_path("总公司/销售部")
    group = ChatGroup.objects.create(name="基准群", platform="wecom", kind="department", department=dept,
                                     external_id=ROOM)  # fmt: skip
    job = ChatImport.objects.create(group=group, platform="wecom", original_name="floor")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.jsonl"
        start = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows} messages ({path.stat().st_size / 1e6:.1f} MB) in "
              f"{time.perf_counter() - start:.1f} s on {connection.vendor}")  # fmt: skip
        print(f"load average (1, 5, 15 min) before: {load()}")
        floor = floor_copy(path, Path(tmp) / "rows.tsv", group, job)
        print(f"(a) bare COPY of the same rows:           {floor:7.2f} s  ({args.rows / floor:,.0f} rows/s)")
        truncate()
        seconds, created, status, before, peak = run_child(path, db_name, group.pk)
        print(f"(b) qungui import:                        {seconds:7.2f} s  ({args.rows / seconds:,.0f} rows/s), "
              f"{created} new, {status}; peak RSS (VmHWM) {peak:.1f} MiB (before: {before:.1f} MiB)")  # fmt: skip
        again, created_again, _s, _b, peak_again = run_child(path, db_name, group.pk)
        print(f"(c) qungui re-import (nothing new):       {again:7.2f} s  {created_again} new; "
              f"peak RSS {peak_again:.1f} MiB")  # fmt: skip
        truncate()
        floor_again = floor_copy(path, Path(tmp) / "rows.tsv", group, job)
        print(f"(a) bare COPY again:                      {floor_again:7.2f} s")
        mean = (floor + floor_again) / 2
        print(f"ratio: qungui import = {seconds / mean:.2f}× the bare COPY's time "
              f"({mean / seconds * 100:.0f}% of its speed; target ≥ 50%)")  # fmt: skip
        print(f"load average (1, 5, 15 min) after: {load()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child")
    parser.add_argument("--group", type=int)
    args = parser.parse_args()
    if args.child:
        _use_test_db(os.environ["BENCH_TEST_DB"])
        return child_import(Path(args.child), args.group)
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    if connection.vendor != "postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL database")
    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, db_name)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
