"""A directive imported before its deadline is reported by the nightly deadline pass once the deadline
has passed, even when its group gets no new message (``services.detection.detect_pending_deadlines``)."""

from __future__ import annotations

import pytest

from violations.choices import ViolationStatus
from violations.models import Detection, Violation
from violations.services.detection import DEADLINE_LOOKBACK, detect_new_messages, detect_pending_deadlines

from .conftest import at
from .responsiveness_data import say

pytestmark = pytest.mark.django_db


def r01():
    return Detection.objects.filter(detector="directive_unanswered")


def test_a_deadline_that_passes_after_the_import_is_reported_by_the_next_nightly_pass(room):
    # Friday 17:50: 30 working minutes run until Monday 09:20.
    say(room.leader, at(2026, 11, 6, 17, 50), "@华东区-张三 周一上班前把报价发我")
    detect_new_messages(now=at(2026, 11, 6, 18, 0))
    assert detect_pending_deadlines(now=at(2026, 11, 7, 1, 30)).status == "done"
    assert not r01().exists()  # not due yet on Saturday night

    run = detect_pending_deadlines(now=at(2026, 11, 10, 1, 30))  # Tuesday night, no new message
    assert run.trigger == "deadlines" and run.counts["directive_unanswered"]["hits"] == 1
    [found] = r01()
    assert found.employee_id == room.zhang.employee_id
    assert Violation.objects.get(pk=found.violation_id).status == ViolationStatus.SUSPECTED

    detect_pending_deadlines(now=at(2026, 11, 11, 1, 30))  # again: nothing twice
    assert r01().count() == 1


def test_messages_older_than_the_lookback_are_not_read_again(room):
    say(room.leader, at(2026, 11, 2, 10, 0), "@华东区-张三 把客户回访表发我")
    assert detect_pending_deadlines(now=at(2026, 11, 2, 10, 0) + DEADLINE_LOOKBACK + DEADLINE_LOOKBACK) is None
    assert not r01().exists()
