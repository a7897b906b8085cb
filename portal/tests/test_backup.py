"""scripts/backup.sh and scripts/restore.sh: a backup restores into an empty database with the same data."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from groups.models import Membership

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def run_script(name: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "MEDIA_ROOT", "SQLITE_PATH"}}
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args], env={**base, **env}, capture_output=True, text=True, timeout=300
    )


def make_media(root: Path) -> dict[str, bytes]:
    files = {
        "evidence/2026/05/截图-张三.png": b"\x89PNG\r\n\x1a\n" + os.urandom(2048),
        "imports/employees/花名册 五月.csv": "工号,姓名\nE0101,张三\n".encode(),
        "top.txt": b"x",
    }
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_media_and_sqlite_round_trip(tmp_path):
    media, db_file = tmp_path / "media", tmp_path / "qungui.sqlite3"
    files = make_media(media)
    with sqlite3.connect(db_file) as db:
        db.execute("CREATE TABLE employee (no TEXT PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO employee VALUES (?, ?)", [("E0101", "张三"), ("E0102", "赵六")])
    env = {"MEDIA_ROOT": str(media), "SQLITE_PATH": str(db_file)}

    made = run_script("backup.sh", str(tmp_path / "backups"), env=env)
    assert made.returncode == 0, made.stderr
    backup = Path(made.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in backup.iterdir()) == ["SHA256SUMS", "db.sqlite3", "manifest.txt", "media.tar.gz"]
    assert "media_files=3" in (backup / "manifest.txt").read_text()
    assert oct(backup.joinpath("db.sqlite3").stat().st_mode & 0o777) == "0o600"  # personal data

    target = {"MEDIA_ROOT": str(tmp_path / "restored-media"), "SQLITE_PATH": str(tmp_path / "restored.sqlite3")}
    restored = run_script("restore.sh", str(backup), env=target)
    assert restored.returncode == 0, restored.stderr
    assert read_tree(tmp_path / "restored-media") == files
    with sqlite3.connect(tmp_path / "restored.sqlite3") as db:
        assert db.execute("SELECT no, name FROM employee ORDER BY no").fetchall() == [
            ("E0101", "张三"),
            ("E0102", "赵六"),
        ]


def test_restore_refuses_to_overwrite_or_use_a_damaged_backup(tmp_path):
    media = tmp_path / "media"
    make_media(media)
    db_file = tmp_path / "a.sqlite3"
    sqlite3.connect(db_file).close()
    backup = Path(
        run_script("backup.sh", str(tmp_path / "b"), env={"MEDIA_ROOT": str(media), "SQLITE_PATH": str(db_file)})
        .stdout.strip()
        .splitlines()[-1]
    )
    # Target media not empty
    refused = run_script("restore.sh", str(backup), env={"MEDIA_ROOT": str(media), "SQLITE_PATH": str(tmp_path / "n")})
    assert refused.returncode != 0 and "not empty" in refused.stderr
    # Target SQLite file exists
    refused = run_script(
        "restore.sh", str(backup), env={"MEDIA_ROOT": str(tmp_path / "m"), "SQLITE_PATH": str(db_file)}
    )
    assert refused.returncode != 0 and "exists" in refused.stderr
    # A damaged file
    with (backup / "media.tar.gz").open("ab") as fh:
        fh.write(b"garbage")
    refused = run_script(
        "restore.sh", str(backup), env={"MEDIA_ROOT": str(tmp_path / "m"), "SQLITE_PATH": str(tmp_path / "n")}
    )
    assert refused.returncode != 0 and "checksum" in refused.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "n").exists()


def test_backup_without_a_database_fails_clearly(tmp_path):
    result = run_script("backup.sh", str(tmp_path / "b"), env={"SQLITE_PATH": str(tmp_path / "missing.sqlite3")})
    assert result.returncode != 0
    assert "no SQLite file" in result.stderr
    assert not any((tmp_path / "b").iterdir())  # no half-written backup left behind


# --- PostgreSQL -------------------------------------------------------------------------------


def pg_url(name: str) -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgresql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def table_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as db:
        tables = [r[0] for r in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        count = sql.SQL("SELECT count(*) FROM {}")
        return {t: db.execute(count.format(sql.Identifier(t))).fetchone()[0] for t in sorted(tables)}


def employee_checksum(url: str) -> str:
    query = "SELECT md5(string_agg(e::text, '|' ORDER BY e.id)) FROM groups_employee e"
    with psycopg.connect(url) as db:
        return db.execute(query).fetchone()[0]


@pytest.fixture
def restore_db():
    name = connection.settings_dict["NAME"] + "_restored"
    admin_url = pg_url("postgres")
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        db.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield pg_url(name)
    with psycopg.connect(admin_url, autocommit=True) as db:
        db.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_backup_restores_into_an_empty_database(org, hr, tmp_path, restore_db):
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    media = tmp_path / "media"
    files = make_media(media)
    source = pg_url(connection.settings_dict["NAME"])

    made = run_script("backup.sh", str(tmp_path / "backups"), env={"DATABASE_URL": source, "MEDIA_ROOT": str(media)})
    assert made.returncode == 0, made.stderr
    backup = made.stdout.strip().splitlines()[-1]
    restored_media = tmp_path / "restored-media"
    restored = run_script("restore.sh", backup, env={"DATABASE_URL": restore_db, "MEDIA_ROOT": str(restored_media)})
    assert restored.returncode == 0, restored.stderr

    counts = table_counts(source)
    assert counts["groups_employee"] == 6 and counts["groups_membership"] == 1
    assert table_counts(restore_db) == counts
    assert employee_checksum(restore_db) == employee_checksum(source)
    assert read_tree(restored_media) == files
    # A second restore into the now non-empty database is refused, and changes nothing.
    again = run_script("restore.sh", backup, env={"DATABASE_URL": restore_db, "MEDIA_ROOT": str(tmp_path / "x")})
    assert again.returncode != 0 and "not empty" in again.stderr
    assert table_counts(restore_db) == counts
