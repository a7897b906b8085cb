"""Two computations of the same month never overlap: the second waits for the first's lock."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection, transaction

from violations.deductions import compute_month
from violations.deductions.compute import _lock_open_month
from violations.models import PerformanceMonth

OCT = datetime.date(2026, 10, 1)
pytestmark = [
    # Row locks need PostgreSQL; SQLite serialises writers with one database lock instead.
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def test_second_computation_waits_for_the_first(org, hr):
    PerformanceMonth.objects.create(month=OCT)  # exists already: no insert conflict to wait on
    held, release, finished = threading.Event(), threading.Event(), []

    def first_run():
        try:
            with transaction.atomic():
                _lock_open_month(OCT)  # what compute_month does first; held until commit
                held.set()
                release.wait(10)
        finally:
            connection.close()

    def second_run():
        try:
            compute_month(OCT, acting_user=hr)
            finished.append(time.monotonic())
        finally:
            connection.close()

    first = threading.Thread(target=first_run)
    first.start()
    assert held.wait(10)
    second = threading.Thread(target=second_run)
    second.start()
    time.sleep(1.5)
    assert finished == []  # still waiting on the lock
    released_at = time.monotonic()
    release.set()
    first.join(10)
    second.join(30)
    assert finished and finished[0] >= released_at
    assert PerformanceMonth.objects.get(month=OCT).computed_by == hr
