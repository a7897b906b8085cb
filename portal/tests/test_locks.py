"""Job locks (portal.locks) are exclusive and die with their holder, on both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from portal.locks import AdvisoryLock, FileLock, job_lock, make_lock
from portal.tests.processes import child_env

HOLDER = """
import os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from portal.locks import job_lock
with job_lock(sys.argv[1]) as held:
    print("held" if held else "busy", flush=True)
    time.sleep(600)
"""


def _start_holder(name: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, name],
        cwd=settings.BASE_DIR,
        env=child_env(REDIS_URL=""),
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if line != "held":
        proc.kill()
        proc.wait()
        pytest.fail(f"the holder process did not get the lock: {line!r}")
    return proc


def _acquired_within(name: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with job_lock(name) as held:
            if held:
                return True
        time.sleep(0.1)
    return False


def test_the_lock_follows_the_database(db):
    lock = make_lock("reconcile_groups")
    assert isinstance(lock, AdvisoryLock if connection.vendor == "postgresql" else FileLock)


def test_lock_is_exclusive_and_released_on_exit(db):
    with job_lock("job") as first:
        assert first
        with job_lock("job") as second:
            assert not second  # another holder (another connection / another open file)
        with job_lock("other job") as other:
            assert other
    with job_lock("job") as again:
        assert again


def test_lock_is_released_when_the_block_raises(db):
    with pytest.raises(RuntimeError), job_lock("job") as held:
        assert held
        raise RuntimeError("job failed")
    with job_lock("job") as again:
        assert again


def test_lock_of_a_killed_process_is_free_at_once(db):
    """SIGKILL leaves no chance to clean up: the database/kernel must drop the lock themselves."""
    name = "reconcile_groups"
    holder = _start_holder(name)
    try:
        with job_lock(name) as held:
            assert not held  # the other process really holds it
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert _acquired_within(name, 5)  # not after a TTL of many minutes


@pytest.mark.postgres
def test_advisory_lock_survives_djangos_connection_being_closed(db):
    with job_lock("job") as held:
        assert held
        connection.close()  # CONN_MAX_AGE / health checks may do this mid-job
        with job_lock("job") as second:
            assert not second
