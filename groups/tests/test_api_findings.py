"""The findings endpoints: scoped reads, and mark-removed / waive for HR and the group's admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from groups.choices import FindingKind, FindingStatus
from groups.models import ChatGroup, Membership, RosterFinding
from groups.reconcile import reconcile_all
from portal.api.testing import api_for, ids

URL = "/api/v1/findings/"


@pytest.fixture
def found(org):
    """A departed member and an outsider in the sales group, an outsider in the tech group."""
    ChatGroup.objects.update(approved_at=timezone.now())
    sales, tech = org["sales_group"], org["tech_group"]
    Membership.objects.create(group=sales, nickname="华东区-赵六", employee=org["east_departed"])
    Membership.objects.create(group=sales, nickname="路人甲", platform_id="wx_a")
    Membership.objects.create(group=tech, nickname="路人乙", platform_id="wx_b")
    reconcile_all(now=timezone.now() - timedelta(hours=30))
    return {
        "departed": RosterFinding.objects.get(kind=FindingKind.DEPARTED_MEMBER),
        "sales_outsider": RosterFinding.objects.get(kind=FindingKind.OUTSIDER, group=sales),
        "tech_outsider": RosterFinding.objects.get(kind=FindingKind.OUTSIDER, group=tech),
    }


@pytest.mark.parametrize(
    "who, visible",
    [
        ("hr", {"departed", "sales_outsider", "tech_outsider"}),
        ("auditor", {"departed", "sales_outsider", "tech_outsider"}),
        ("head_sales", {"departed", "sales_outsider"}),
        ("head_tech", {"tech_outsider"}),
        ("group_admin", {"departed", "sales_outsider"}),  # admin of the sales group (head of nothing)
        ("employee_user", set()),
        ("outsider_user", set()),
    ],
)
def test_each_role_sees_its_findings_and_404_for_others(request, found, who, visible):
    user = request.getfixturevalue(who)
    assert ids(api_for(user).get(URL)) == sorted(found[k].pk for k in visible)
    for key, finding in found.items():
        assert api_for(user).get(f"{URL}{finding.pk}/").status_code == (200 if key in visible else 404)


def test_group_admin_marks_removed(found, group_admin):
    finding = found["sales_outsider"]
    response = api_for(group_admin).post(f"{URL}{finding.pk}/mark-removed/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    finding.refresh_from_db()
    assert finding.resolved_by == group_admin
    assert Membership.objects.get(pk=finding.membership_id).left_at is not None
    again = api_for(group_admin).post(f"{URL}{finding.pk}/mark-removed/")
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]


def test_hr_waives_with_a_reason(found, hr):
    finding = found["tech_outsider"]
    missing = api_for(hr).post(f"{URL}{finding.pk}/waive/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    response = api_for(hr).post(f"{URL}{finding.pk}/waive/", {"reason": "外部顾问,已审批"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "waived" and response.json()["waive_reason"] == "外部顾问,已审批"


@pytest.mark.parametrize("action", ["mark-removed", "waive"])
@pytest.mark.parametrize(
    "who, status", [("head_sales", 403), ("auditor", 403), ("head_tech", 404), ("employee_user", 404)]
)
def test_others_cannot_act(request, org, found, action, who, status):
    # 李销售 owns the sales group: take that away, so he is only the head of the department who sees it.
    ChatGroup.objects.filter(pk=org["sales_group"].pk).update(owner=None)
    finding = found["sales_outsider"]
    user = request.getfixturevalue(who)
    response = api_for(user).post(f"{URL}{finding.pk}/{action}/", {"reason": "x"}, format="json")
    assert response.status_code == status, response.content
    assert RosterFinding.objects.get(pk=finding.pk).status == FindingStatus.OPEN


def test_filters_and_query_count(found, hr, org, django_assert_max_num_queries):
    client = api_for(hr)
    assert ids(client.get(URL, {"group": org["tech_group"].pk})) == [found["tech_outsider"].pk]
    assert ids(client.get(URL, {"department": org["sales"].pk})) == sorted(
        [found["departed"].pk, found["sales_outsider"].pk]
    )
    assert ids(client.get(URL, {"kind": "departed_member"})) == [found["departed"].pk]
    with django_assert_max_num_queries(8):
        assert client.get(URL, {"status": "open"}).json()["count"] == 3
