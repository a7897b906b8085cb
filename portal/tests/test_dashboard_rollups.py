"""The dashboard rollups agree with the live data, and stay current through commits."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.db.models import Sum

from portal.dashboard.models import GroupMonthCell, LadderStanding, ViolationCell
from portal.dashboard.rollups import refresh_all
from portal.dashboard.tasks import refresh_rollups_task
from violations.models import CompanySettings, Sanction, Violation

from .dashboard_data import NOW, THIS_MONTH, build, commit_pending, violation

pytestmark = pytest.mark.django_db


def cell_count(**filters) -> int:
    return ViolationCell.objects.filter(**filters).aggregate(n=Sum("count"))["n"] or 0


def test_full_refresh_matches_live_counts(org):
    build(org)
    for status in ("sanctioned", "reported", "appealed"):
        live = Violation.objects.for_month(THIS_MONTH).filter(status=status).count()
        assert cell_count(month=THIS_MONTH, status=status) == live
    assert cell_count(department=org["east"], month=THIS_MONTH) == 3
    assert cell_count(department=org["east"], month=datetime.date(2026, 9, 1)) == 1  # 40 days earlier
    fines = ViolationCell.objects.filter(month=THIS_MONTH).aggregate(f=Sum("fines"))["f"]
    assert fines == Decimal("1234.50")
    assert GroupMonthCell.objects.get(group=org["sales_group"], month=THIS_MONTH).count == 3
    standing = LadderStanding.objects.with_remainders(3, 3).at_risk(3, 3).get(employee=org["east_rep"])
    assert (standing.warnings, standing.near_demerit, standing.near_dismissal) == (2, True, False)
    again = refresh_all(now=NOW)  # idempotent: same cells, no duplicates
    assert again["violation_cells"] == ViolationCell.objects.count()


def test_commits_keep_cells_current(org, django_capture_on_commit_callbacks):
    build(org)
    commit_pending()
    east_rep = org["east_rep"]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        record = violation(east_rep, "C10", group=org["sales_group"], sanctions=[("warning", {"points": 2})])
    assert len(callbacks) == 1  # a violation and its sanction: one refresh per transaction
    assert cell_count(department=org["east"], month=THIS_MONTH) == 4
    assert LadderStanding.objects.get(employee=east_rep).warnings == 3
    at_risk = LadderStanding.objects.with_remainders(3, 3).at_risk(3, 3)
    assert not at_risk.filter(employee=east_rep).exists()  # the third warning made a demerit

    with django_capture_on_commit_callbacks(execute=True):
        record.status = "dismissed"
        record.dismissed_reason = "不成立"
        record.save()
        Sanction.objects.filter(violation=record).update(withdrawn_at=NOW, withdrawn_reason="不成立")
        Sanction.objects.get(violation=record).save()
    assert cell_count(department=org["east"], month=THIS_MONTH, status="dismissed") == 1
    assert GroupMonthCell.objects.get(group=org["sales_group"], month=THIS_MONTH).count == 3  # standing only
    assert at_risk.filter(employee=east_rep, near_demerit=True).exists()


def test_transfer_moves_cells_to_the_new_department(org, django_capture_on_commit_callbacks):
    build(org)
    commit_pending()
    east_rep = org["east_rep"]
    with django_capture_on_commit_callbacks(execute=True):
        east_rep.department = org["tech"]
        east_rep.save()
    assert cell_count(department=org["east"]) == 0
    assert cell_count(department=org["tech"], month=THIS_MONTH) == 4  # 孙七's one and 张三's three


def test_settings_change_applies_at_read_time(org, head_sales):
    from portal.dashboard import sections as dash

    build(org)
    assert dash.at_risk(head_sales, dash.resolve_area(head_sales, None))["count"] == 1  # 2 of 3 warnings
    ladder = CompanySettings.load()
    ladder.warnings_per_demerit = 4
    ladder.save()
    assert dash.at_risk(head_sales, dash.resolve_area(head_sales, None))["count"] == 0  # 2 of 4: no refresh needed


def test_broker_down_refreshes_inline(org, django_capture_on_commit_callbacks):
    build(org)
    commit_pending()
    broker_down = mock.patch.object(refresh_rollups_task, "delay", side_effect=ConnectionError("no broker"))
    with broker_down, django_capture_on_commit_callbacks(execute=True):
        violation(org["tech_dev"], "C04", group=org["tech_group"])
    assert cell_count(department=org["tech"], month=THIS_MONTH) == 2


def test_rolled_back_transaction_does_not_block_later_refreshes(org, django_capture_on_commit_callbacks):
    from django.db import transaction

    build(org)
    commit_pending()
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                violation(org["tech_dev"], "C04")
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        violation(org["tech_dev"], "C05")
    assert cell_count(department=org["tech"], month=THIS_MONTH) == 2
