"""A suspicion of R01/R03 that a later import disproves — the export ended before the deadline, the
next one holds the answer in time — is withdrawn by the next run (``withdraw_answered_later``); a
decided one stays as decided, a late answer withdraws nothing."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry

from violations.choices import ViolationStatus
from violations.detection import acknowledgements, directives
from violations.models import Detection, Violation
from violations.services.detection import detect_chat
from violations.services.records import confirm_violation

from .conftest import at
from .responsiveness_data import say

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def imported_the_next_day(monkeypatch):
    """Every run judges at 2026-11-03 12:00, past all the deadlines below."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: at(2026, 11, 3, 12, 0))


def first_export(room, text="@华东区-张三 把客户回访表发我", detector=directives.DETECTOR):
    say(room.leader, at(2026, 11, 2, 10, 5), text)
    say(room.wang, at(2026, 11, 2, 10, 10), "好")
    detect_chat(since=at(2026, 11, 2, 10, 0), until=at(2026, 11, 2, 10, 11),
                group_ids=[room.group.pk], detectors=[detector])  # fmt: skip
    [suspicion] = Violation.objects.filter(employee=room.zhang.employee)
    assert suspicion.status == ViolationStatus.SUSPECTED
    return suspicion


def next_export(room, when, text="好的,马上发", detector=directives.DETECTOR):
    say(room.zhang, when, text)
    return detect_chat(since=when, until=at(2026, 11, 2, 18, 0),
                       group_ids=[room.group.pk], detectors=[detector])  # fmt: skip


def test_an_answer_in_time_from_the_next_export_withdraws_the_suspicion(room):
    suspicion = first_export(room)
    run = next_export(room, at(2026, 11, 2, 10, 20))
    suspicion.refresh_from_db()
    assert suspicion.status == ViolationStatus.DISMISSED and "已在时限内回复" in suspicion.dismissed_reason
    assert Detection.objects.filter(violation=suspicion).exists()  # the key stays: not made again
    entry = LogEntry.objects.filter(additional_data__run=run.pk, additional_data__violations=[suspicion.pk])
    assert entry.exists()
    next_export(room, at(2026, 11, 2, 10, 25))  # a rerun: nothing more, nothing made again
    assert Violation.objects.filter(employee=room.zhang.employee).count() == 1


def test_a_late_answer_withdraws_nothing(room):
    suspicion = first_export(room)
    next_export(room, at(2026, 11, 2, 10, 36))  # due 10:35
    suspicion.refresh_from_db()
    assert suspicion.status == ViolationStatus.SUSPECTED


def test_a_decided_suspicion_stays_as_decided(room, hr):
    suspicion = confirm_violation(first_export(room), acting_user=hr)
    next_export(room, at(2026, 11, 2, 10, 20))
    suspicion.refresh_from_db()
    assert suspicion.status == ViolationStatus.CONFIRMED


def test_an_acknowledgement_from_the_next_export_withdraws_an_r03_suspicion(room):
    suspicion = first_export(room, "@华东区-张三 方案已发,收到请回复", acknowledgements.DETECTOR)
    next_export(room, at(2026, 11, 2, 15, 0), "我在外面,晚点看", acknowledgements.DETECTOR)  # no acknowledgement
    suspicion.refresh_from_db()
    assert suspicion.status == ViolationStatus.SUSPECTED
    next_export(room, at(2026, 11, 2, 16, 0), "收到", acknowledgements.DETECTOR)
    suspicion.refresh_from_db()
    assert suspicion.status == ViolationStatus.DISMISSED
