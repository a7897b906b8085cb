"""People as HR reads them: 姓名(工号), the department in the pickers, and 离职 marked everywhere."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import reverse

from groups import people

pytestmark = pytest.mark.django_db

BADGE = '<span class="badge-departed">离职</span>'


def autocomplete(client, field="employee", model="violation", app="violations", term=""):
    params = {"app_label": app, "model_name": model, "field_name": field, "term": term}
    return client.get("/admin/autocomplete/", params)


def test_picker_label_names_department_and_departure(org):
    assert org["east_departed"].picker_label == "赵六(E0102) · 销售部/华东区 · 离职"
    assert org["east_rep"].picker_label == "张三(E0101) · 销售部/华东区"
    assert org["ceo"].picker_label == "王总(E0001) · 总公司"  # the company itself: its own name


def test_autocomplete_json_shows_department_and_departure(client, hr, org, django_assert_max_num_queries):
    client.force_login(hr)
    with django_assert_max_num_queries(12):  # no query per employee for the department
        response = autocomplete(client, term="E01")
    texts = [item["text"] for item in response.json()["results"]]
    assert texts == ["李销售(E0100) · 销售部", "张三(E0101) · 销售部/华东区", "赵六(E0102) · 销售部/华东区 · 离职"]
    owners = autocomplete(client, field="owner", model="chatgroup", app="groups", term="赵六").json()
    assert [item["text"] for item in owners["results"]] == ["赵六(E0102) · 销售部/华东区 · 离职"]


def test_selected_employee_shows_the_same_label(client, hr, org):
    client.force_login(hr)
    group = org["sales_group"]
    group.owner = org["east_departed"]
    group.save()
    page = client.get(reverse("admin:groups_chatgroup_change", args=[group.pk])).content.decode()
    pk = org["east_departed"].pk
    assert f'<option value="{pk}" selected>赵六(E0102) · 销售部/华东区 · 离职</option>' in page


def test_departed_marked_in_lists_and_headers(client, hr, org, sanction_departed):
    client.force_login(hr)
    employees = client.get(reverse("admin:groups_employee_changelist")).content.decode()
    assert f"赵六 {BADGE}" in employees and f"张三 {BADGE}" not in employees
    header = client.get(reverse("admin:groups_employee_change", args=[org["east_departed"].pk])).content.decode()
    assert f"<h2>赵六(E0102) {BADGE}</h2>" in header and "<title>赵六(E0102) 离职 | " in header
    violations = client.get(reverse("admin:violations_violation_changelist")).content.decode()
    assert f"赵六(E0102) {BADGE}" in violations
    detail = client.get(reverse("admin:violations_violation_change", args=[sanction_departed.pk])).content.decode()
    assert f"<h2>{sanction_departed} {BADGE}</h2>" in detail
    sanctions = client.get(reverse("admin:violations_sanction_changelist")).content.decode()
    assert f"赵六(E0102) {BADGE}" in sanctions


def test_users_shown_as_their_employee(hr, employee_user, org, outsider_user):
    assert people.user_text(employee_user) == "张三(E0101)"
    assert people.user_text(outsider_user) == outsider_user.username  # no employee: the account
    assert people.user_text(None) == "—"
    org["east_departed"].user = outsider_user
    org["east_departed"].save()
    outsider_user.refresh_from_db()
    assert people.user_html(outsider_user) == f"赵六(E0102) {BADGE}"


def test_template_filters(org):
    template = Template("{% load people %}{{ a|employee }}|{{ b|employee:True }}")
    html = template.render(Context({"a": org["east_rep"], "b": org["east_departed"]}))
    assert html == f"张三(E0101)|赵六(E0102) · 销售部/华东区 {BADGE}"


def test_group_member_preview_marks_the_departed(client, hr, org):
    """The group page's bounded member preview (no inline of every member) marks a departed member."""
    from groups.models import Membership

    Membership.objects.create(group=org["sales_group"], employee=org["east_departed"], nickname="华东区-赵六")
    client.force_login(hr)
    page = client.get(reverse("admin:groups_chatgroup_change", args=[org["sales_group"].pk])).content.decode()
    preview = page[page.index("查看全部成员") :]
    assert "赵六(E0102)" in preview and "badge-departed" in preview


def test_departed_marked_in_membership_group_and_finding_screens(client, hr, org):
    from django.utils import timezone

    from groups.models import Membership, RosterFinding

    member = Membership.objects.create(group=org["sales_group"], employee=org["east_departed"], nickname="华东区-赵六")
    now = timezone.now()
    finding = RosterFinding.objects.create(
        kind="departed_member", group=org["sales_group"], membership=member, employee=org["east_departed"],
        first_seen_at=now, last_seen_at=now,
    )  # fmt: skip
    org["sales_group"].owner = org["east_departed"]
    org["sales_group"].save()
    client.force_login(hr)
    pages = {
        "memberships": reverse("admin:groups_membership_changelist"),
        "groups": reverse("admin:groups_chatgroup_changelist"),
        "findings": reverse("admin:groups_rosterfinding_changelist"),
        "finding": reverse("admin:groups_rosterfinding_change", args=[finding.pk]),
    }
    for name, url in pages.items():
        assert f"赵六(E0102) {BADGE}" in client.get(url).content.decode(), name
    page = client.get(reverse("admin:groups_membership_change", args=[member.pk])).content.decode()
    assert f"<h2>{member} {BADGE}</h2>" in page and "赵六(E0102) · 销售部/华东区 · 离职</option>" in page


@pytest.fixture
def sanction_departed(hr, org):
    from django.utils import timezone

    from violations import services
    from violations.models import Rule

    rule = Rule.objects.get(code="C04")
    violation = services.record_violation(
        org["east_departed"], rule, timezone.now(), "离职前发广告", acting_user=hr, confirmed=True
    )
    services.apply_sanctions(violation, acting_user=hr)
    return violation
