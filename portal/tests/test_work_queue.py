"""A group admin's work queue (``/`` and ``/queue/``) and the department heads' phone-sized drill-downs
(``/dashboard/findings/``, ``/dashboard/violations/``) behind the dashboard's numbers."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from groups.models import ChatGroup, Membership, RosterFinding
from groups.tests.work_data import build_work
from portal.dashboard import queue

from .dashboard_data import NOW, build, violation

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(org, django_user_model, group_admin):
    data = build_work(org, django_user_model)
    data["reported"] = violation(org["east_rep"], "C08", at=timezone.now(), status="reported", group=org["sales_group"])
    data["settled"] = violation(
        org["east_rep"], "C04", at=timezone.now(), status="sanctioned", group=org["sales_group"]
    )
    data["tech_reported"] = violation(org["ceo"], "C08", at=timezone.now(), status="reported", group=org["tech_group"])
    return data


def kinds(work_item) -> set[str]:
    return {f.kind for f in work_item.findings}


def test_group_admin_starts_on_their_queue(client, work, group_admin, org):
    client.force_login(group_admin)
    page = client.get("/")
    assert page.status_code == 200
    works = page.context["works"]
    assert {w.group.name for w in works} == {"销售部工作群", "销售项目群"}  # never 技术部工作群
    sales = next(w for w in works if w.group == org["sales_group"])
    assert kinds(sales) == {"departed_member", "outsider", "bad_nickname"}
    assert [v.pk for v in sales.violations] == [work["reported"].pk]  # the sanctioned one is settled
    project = next(w for w in works if w.group == work["project"])
    assert kinds(project) == {"owner_departed"}
    body = page.content.decode()
    assert "路人乙" not in body and "技术部工作群" not in body
    assert reverse("groups:work_removed", args=[work["departed"].pk]) in body
    assert reverse("groups:work_successor", args=[work["owner"].pk]) in body
    assert f"{reverse('violations:report')}?group={org['sales_group'].pk}" in body
    assert client.get(reverse("work_queue")).context["works"][0].group == works[0].group


def test_queue_newest_first_grouped_and_bounded(client, work, group_admin, org):
    sales = org["sales_group"]
    base = timezone.now() - datetime.timedelta(days=10)
    for i in range(queue.ITEMS_PER_GROUP + 5):
        member = Membership.objects.create(group=sales, nickname=f"外人{i:02d}", platform_id=f"wx_x{i}")
        RosterFinding.objects.create(
            kind="outsider", group=sales, membership=member, first_seen_at=base + datetime.timedelta(hours=i),
            last_seen_at=base + datetime.timedelta(hours=i),
        )  # fmt: skip
    RosterFinding.objects.filter(group=work["project"]).update(first_seen_at=base - datetime.timedelta(days=1))
    client.force_login(group_admin)
    works = client.get(reverse("work_queue")).context["works"]
    assert [w.group for w in works] == [sales, work["project"]]  # the newest work first
    first = works[0]
    assert len(first.findings) == queue.ITEMS_PER_GROUP and first.more
    assert first.findings_total == queue.ITEMS_PER_GROUP + 5 + 3
    times = [f.first_seen_at for f in first.findings]
    assert times == sorted(times, reverse=True)
    one = client.get(reverse("work_queue"), {"group": sales.pk})
    single = one.context["single"]
    assert single.findings_page.paginator.count == queue.ITEMS_PER_GROUP + 5 + 3
    assert len(single.findings) == min(queue.ITEMS_PER_PAGE, single.findings_total)


def test_queue_pages_through_many_groups(client, work, group_admin, org):
    for i in range(queue.GROUPS_PER_PAGE + 2):
        group = ChatGroup.objects.create(
            name=f"项目群{i:02d}", platform="wechat", kind="project", department=org["sales"]
        )
        group.admins.add(org["tech_dev"])
        member = Membership.objects.create(group=group, nickname="外人", platform_id="wx_o")
        now = timezone.now()
        RosterFinding.objects.create(
            kind="outsider", group=group, membership=member, first_seen_at=now, last_seen_at=now
        )
    client.force_login(group_admin)
    first = client.get(reverse("work_queue"))
    assert len(first.context["works"]) == queue.GROUPS_PER_PAGE
    second = client.get(reverse("work_queue"), {"page": 2})
    assert len(second.context["works"]) == 4  # 2 more project groups + 销售部工作群 + 销售项目群
    names = {w.group.name for w in first.context["works"]} | {w.group.name for w in second.context["works"]}
    assert len(names) == queue.GROUPS_PER_PAGE + 4


def test_queue_query_count_is_bounded(client, work, group_admin, django_assert_max_num_queries):
    client.force_login(group_admin)
    client.get(reverse("work_queue"))  # warm the session and scope
    with django_assert_max_num_queries(30):
        client.get(reverse("work_queue"))


def test_one_group_view_is_404_for_another_groups_admin(client, work, org):
    client.force_login(work["other_admin"])
    assert client.get(reverse("work_queue"), {"group": org["sales_group"].pk}).status_code == 404
    assert client.get(reverse("work_queue"), {"group": "x"}).status_code == 404
    own = client.get(reverse("work_queue"))
    assert [w.group for w in own.context["works"]] == [org["tech_group"]]
    assert [v.pk for v in own.context["works"][0].violations] == [work["tech_reported"].pk]


def test_hr_sees_every_groups_work_and_employees_have_no_queue(client, work, hr, employee_user, auditor):
    client.force_login(hr)
    names = {w.group.name for w in client.get(reverse("work_queue")).context["works"]}
    assert names == {"销售部工作群", "销售项目群", "技术部工作群"}
    for user in (employee_user, auditor):
        client.force_login(user)
        assert client.get(reverse("work_queue")).status_code == 403
    client.force_login(employee_user)
    assert "works" not in client.get("/").context  # an employee's start page stays their own record


def test_report_from_the_queue_preselects_the_group(client, work, group_admin, org):
    client.force_login(group_admin)
    url = reverse("violations:report")
    page = client.get(url, {"group": work["project"].pk})
    assert page.status_code == 200
    assert page.context["form"]["group"].value() == work["project"].pk
    assert client.get(url, {"group": org["tech_group"].pk}).status_code == 404
    assert client.get(url, {"group": "abc"}).status_code == 404
    client.force_login(work["other_admin"])
    assert client.get(url, {"group": org["sales_group"].pk}).status_code == 404


# --- department heads' drill-downs ---------------------------------------------------------------


@pytest.fixture
def frozen_data(org, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    return build(org)


def follow(client, url: str):
    parts = urlsplit(url)
    return client.get(parts.path + (f"?{parts.query}" if parts.query else ""))


def test_dashboard_links_open_the_phone_lists_with_the_same_numbers(client, head_sales, org, frozen_data):
    client.force_login(head_sales)
    dash = client.get(reverse("dashboard"))
    links = dash.context["links"]
    for key in ("violations_total", "violations_reported", "violations_confirmed", "fines"):
        assert links[key].startswith(reverse("dashboard_violations")), key
    for key in ("findings", "findings_overdue_departed"):
        assert links[key].startswith(reverse("dashboard_findings")), key
    counts = {
        "violations_total": dash.context["violations"]["total"],
        "findings": dash.context["findings"]["total"],
    }
    assert counts == {"violations_total": 3, "findings": 1}
    listed = follow(client, links["violations_total"])
    assert listed.status_code == 200 and listed.context["page"].paginator.count == 3
    assert follow(client, links["violations_reported"]).context["page"].paginator.count == 1
    assert follow(client, links["fines"]).context["page"].paginator.count == 1
    findings = follow(client, links["findings"])
    assert findings.context["page"].paginator.count == 1
    assert "华东区-赵六" in findings.content.decode()
    assert follow(client, links["findings_overdue_departed"]).context["page"].paginator.count == 1
    for kind in dash.context["findings"]["kinds"]:
        assert follow(client, kind["url"]).context["page"].paginator.count == kind["count"]


def test_drill_downs_are_scoped(client, head_sales, head_tech, group_admin, employee_user, org, frozen_data):
    client.force_login(head_tech)
    assert client.get(reverse("dashboard_findings"), {"dept": org["sales"].pk}).status_code == 404
    assert client.get(reverse("dashboard_violations"), {"dept": org["sales"].pk}).status_code == 404
    own = client.get(reverse("dashboard_violations"), {"month": "2026-10"})
    assert [v.employee.name for v in own.context["page"].object_list] == ["孙七"]
    assert client.get(reverse("dashboard_violations"), {"month": "2026-13"}).status_code == 400
    for user in (group_admin, employee_user):
        client.force_login(user)
        assert client.get(reverse("dashboard_findings")).status_code == 403
        assert client.get(reverse("dashboard_violations")).status_code == 403
