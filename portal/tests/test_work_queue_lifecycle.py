"""The work queue shows the lifecycle findings with an action, and the group's mutes with their end."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from groups import services
from groups.models import ChatGroup, Membership, RosterFinding
from groups.reconcile import reconcile_all

pytestmark = pytest.mark.django_db


@pytest.fixture
def lifecycle(org, hr):
    ChatGroup.objects.update(approved_at=timezone.now())
    sales = org["sales_group"]
    removed_at = timezone.now() - datetime.timedelta(days=2)
    services.remove_from_group(sales, org["east_rep"], acting_user=hr, source="s:1", days=None, at=removed_at)
    Membership.objects.create(group=sales, employee=org["east_rep"], nickname="华东区-张三")
    services.mute_in_group(
        sales, org["sales_head"], acting_user=hr, source="s:2", days=8, reason="C10 禁言", at=timezone.now()
    )
    reconcile_all()
    return RosterFinding.objects.get(kind="rejoined_barred")


def test_queue_shows_lifecycle_finding_with_removal_action_and_mute_end(client, group_admin, org, lifecycle):
    client.force_login(group_admin)
    page = client.get(reverse("work_queue"))
    body = page.content.decode()
    assert "禁入期内重新入群" in body and "永久禁止再入群" in body
    assert reverse("groups:work_removed", args=[lifecycle.pk]) in body
    until = (timezone.localdate() + datetime.timedelta(days=8)).isoformat()
    assert f"禁言至 {until}" in body
    sales = next(w for w in page.context["works"] if w.group == org["sales_group"])
    assert [m.employee for m in sales.mutes] == [org["sales_head"]]
    # the one-group page shows it too; an expired mute is gone
    single = client.get(reverse("work_queue"), {"group": org["sales_group"].pk}).content.decode()
    assert f"禁言至 {until}" in single
    org["sales_head"].group_restrictions.update(until=timezone.localdate() - datetime.timedelta(days=1))
    assert "禁言至" not in client.get(reverse("work_queue")).content.decode()


def test_removed_action_closes_the_rejoined_membership(client, group_admin, org, lifecycle):
    client.force_login(group_admin)
    response = client.post(reverse("groups:work_removed", args=[lifecycle.pk]))
    assert response.status_code == 302
    lifecycle.refresh_from_db()
    assert lifecycle.status == "resolved"
    assert lifecycle.membership.reported_removal.source == "confirmed"


def test_findings_list_explains_lifecycle_kinds_in_english(client, hr, org, lifecycle):
    client.force_login(hr)
    body = client.get(reverse("dashboard_findings"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Rejoined while barred" in body and "Barred from rejoining permanently" in body
