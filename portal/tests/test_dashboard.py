"""The dashboard's numbers, scoping, month switch and bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from portal.dashboard import sections as dash
from portal.dashboard.rollups import refresh_all

from .dashboard_data import NOW, THIS_MONTH, build, finding

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(org):
    return build(org)


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def area_for(user, dept=None):
    return dash.resolve_area(user, dept)


def test_head_sees_own_subtree_only(head_sales, org, data):
    result = dash.build(head_sales, area_for(head_sales), THIS_MONTH, now=NOW)
    assert result["violations"]["total"] == 3  # 张三's three this month; 孙七 (技术部) is not counted
    assert result["violations"]["reported"] == 1
    assert result["violations"]["confirmed"] == 2
    assert result["violations"]["appealed"] == 0
    assert result["violations"]["fines"] == Decimal("1234.50")
    assert result["violations"]["points"] == 2
    assert [p["employee__name"] for p in result["at_risk"]["people"]] == ["张三"]
    assert result["findings"]["total"] == 1
    assert result["findings"]["oldest"][0]["kind"] == "departed_member"
    assert result["findings"]["overdue"] == 1  # departed member known for 3 days > 24 hours
    assert result["appeals"]["total"] == 0
    assert result["org"] == {
        "employees_active": 2,
        "employees_departed": 1,
        "groups_active": 1,
        "departed_in_groups": 1,
        "outsiders_in_groups": 1,
        "as_of": NOW,  # the group rollup's time (build() refreshed it at NOW)
    }


def test_sibling_head_sees_other_subtree(head_tech, org, data):
    result = dash.build(head_tech, area_for(head_tech), THIS_MONTH, now=NOW)
    assert result["violations"]["total"] == 1
    assert result["violations"]["appealed"] == 1
    assert result["at_risk"]["count"] == 0
    assert result["appeals"]["total"] == 1 and result["appeals"]["overdue"] == 1
    assert result["overdue"]["appeals"] == 1
    assert result["findings"]["total"] == 1
    assert result["findings"]["oldest"][0]["kind"] == "unapproved_group"
    assert result["findings"]["overdue"] == 0  # 5 hours old, other kinds are overdue after 7 days


def test_hr_sees_company_and_breakdown(hr, org, data):
    area = area_for(hr)
    assert area.whole_company
    result = dash.build(hr, area, THIS_MONTH, now=NOW)
    assert result["violations"]["total"] == 4
    rows = {row["department"].name: row for row in result["subdepartments"]}
    assert rows["销售部"]["violations"] == 3 and rows["技术部"]["violations"] == 1
    assert rows["销售部"]["employees"] == 2 and rows["销售部"]["departed_in_groups"] == 1
    assert rows["销售部"]["findings"] == 1
    assert rows["销售部"]["fines"] == Decimal("1234.50")
    assert "总公司" in rows  # 王总 works in the root itself: its own row
    worst = result["groups"]
    # one finding each: the tie goes to the group created first
    assert [(g["name"], g["findings"]) for g in worst["most_findings"]] == [("销售部工作群", 1), ("技术部工作群", 1)]
    assert worst["most_violations_per_member"][0]["name"] == "销售部工作群"


def test_groups_with_most_findings_come_first(hr, org, data):
    finding(org["tech_group"], "project_overdue", age=timedelta(hours=1))
    refresh_all(now=NOW)
    worst = dash.build(hr, area_for(hr), THIS_MONTH, now=NOW)["groups"]
    assert [(g["name"], g["findings"]) for g in worst["most_findings"]] == [("技术部工作群", 2), ("销售部工作群", 1)]


def test_trend_counts_standing_violations_by_category(hr, org, data):
    result = dash.trend(hr, area_for(hr), THIS_MONTH)
    assert result["months"][-1] == "2026-10" and result["months"][0] == "2025-11"
    series = {s["key"]: s["data"] for s in result["series"]}
    assert series["content"][-1] == 2  # C04 and C08 (reported counts as standing)
    assert series["content"][-2] == 1  # C05, 40 days earlier
    assert series["responsiveness"][-1] == 1
    assert series["conduct"][-1] == 1


def test_breakdown_for_head_lists_children(head_sales, org, data):
    rows = dash.by_subdepartment(head_sales, area_for(head_sales), THIS_MONTH)
    names = [(row["department"].name, row["own"]) for row in rows]
    assert ("华东区", False) in names
    east = next(row for row in rows if row["department"].name == "华东区")
    assert east["violations"] == 3 and east["employees"] == 1


def test_views_scope_and_bad_input(client, head_sales, head_tech, org, data, frozen):
    client.force_login(head_tech)
    assert client.get(reverse("dashboard"), {"dept": org["sales"].pk}).status_code == 404
    assert client.get(reverse("dashboard"), {"dept": "abc"}).status_code == 404
    response = client.get(reverse("dashboard"), {"month": "2026-13"})
    assert response.status_code == 400
    assert "month" in response.content.decode()
    client.force_login(head_sales)
    page = client.get(reverse("dashboard"), {"month": "2026-10"})
    assert page.status_code == 200
    assert page.context["violations"]["total"] == 3
    assert page.context["month"] == THIS_MONTH
    east = client.get(reverse("dashboard"), {"month": "2026-10", "dept": org["east"].pk})
    assert east.context["area"].single == org["east"]
    empty = client.get(reverse("dashboard"), {"month": "2025-01"})
    assert empty.context["violations"]["total"] == 0
    assert "近12个月没有违规记录" in empty.content.decode()


def test_start_page(client, hr, head_sales, group_admin, employee_user, outsider_user, org, data):
    for user in (hr, head_sales):
        client.force_login(user)
        assert client.get("/").url == reverse("dashboard")
    client.force_login(group_admin)
    assert client.get(reverse("dashboard")).status_code == 403
    home = client.get("/")
    assert home.status_code == 200  # a group admin starts on their work queue (test_work_queue.py)
    assert [work.group.name for work in home.context["works"]] == ["销售部工作群"]
    assert [f.kind for f in home.context["works"][0].findings] == ["departed_member"]
    client.force_login(employee_user)
    home = client.get("/")
    assert home.context["employee"] == org["east_rep"] and not home.context["my_groups"]
    client.force_login(outsider_user)
    assert client.get("/").context["employee"] is None


def test_parse_month():
    import datetime

    from django.core.exceptions import ValidationError

    assert dash.parse_month("2026-02") == datetime.date(2026, 2, 1)
    assert dash.parse_month("", today=datetime.date(2026, 10, 20)) == THIS_MONTH
    for bad in ("2026-2x", "1999-12", "10/2026"):
        with pytest.raises(ValidationError):
            dash.parse_month(bad)
    assert dash.shift_month(datetime.date(2026, 1, 1), -1) == datetime.date(2025, 12, 1)
