"""The organisation admin writes through groups.services (one write path per model), as HR."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from groups.models import ChatGroup, Employee

pytestmark = pytest.mark.django_db


def form_data(client, url: str) -> dict:
    """The change form's current values, as a browser would post them back."""
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None:
            continue
        data[name] = [str(v) for v in value] if isinstance(value, (list, tuple)) else str(value)
    for formset in page.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    return data


def test_dissolving_a_group_in_the_admin_stamps_dissolved_at(client, hr, org):
    client.force_login(hr)
    group = org["sales_group"]
    url = reverse("admin:groups_chatgroup_change", args=[group.pk])
    data = form_data(client, url)
    data.update(status="dissolved", **{"dissolved_at_0": "", "dissolved_at_1": ""})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    group.refresh_from_db()
    assert group.status == "dissolved" and group.dissolved_at is not None
    entry = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(ChatGroup), object_pk=str(group.pk)
    ).latest("timestamp")
    assert entry.actor == hr and entry.changes_dict["status"] == ["active", "dissolved"]


def test_reactivating_clears_dissolved_at_and_admins_are_kept(client, hr, org):
    client.force_login(hr)
    group = org["sales_group"]
    url = reverse("admin:groups_chatgroup_change", args=[group.pk])
    data = form_data(client, url)
    client.post(url, {**data, "status": "dissolved"})
    data = form_data(client, url)
    assert client.post(url, {**data, "status": "active"}).status_code == 302
    group.refresh_from_db()
    assert group.status == "active" and group.dissolved_at is None
    assert list(group.admins.all()) == [org["tech_dev"]]


def test_employee_edit_goes_through_the_service_validation(client, hr, org):
    client.force_login(hr)
    person = org["east_rep"]
    url = reverse("admin:groups_employee_change", args=[person.pk])
    data = form_data(client, url)
    data["title"] = "高级销售代表"
    assert client.post(url, data).status_code == 302
    person.refresh_from_db()
    assert person.title == "高级销售代表"
    entry = LogEntry.objects.get_for_object(person).latest("timestamp")
    assert entry.actor == hr and entry.changes_dict["title"] == ["销售代表", "高级销售代表"]


def test_adding_a_group_in_the_admin_creates_it_with_its_admins(client, hr, org):
    client.force_login(hr)
    url = reverse("admin:groups_chatgroup_add")
    data = form_data(client, url)
    data.update(
        name="新项目群",
        platform="wecom",
        kind="project",
        department=str(org["tech"].pk),
        admins=[str(org["tech_dev"].pk)],
        status="active",
        nickname_convention=data.get("nickname_convention", "{department}-{name}"),
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    group = ChatGroup.objects.get(name="新项目群")
    assert list(group.admins.all()) == [org["tech_dev"]] and group.dissolved_at is None


def test_deleting_an_employee_in_the_admin_uses_the_service(client, hr, org):
    client.force_login(hr)
    extra = Employee.objects.create(employee_no="E9999", name="误录", department=org["tech"])
    url = reverse("admin:groups_employee_delete", args=[extra.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Employee.objects.filter(pk=extra.pk).exists()
    entry = LogEntry.objects.filter(object_pk=str(extra.pk), action=LogEntry.Action.DELETE).get()
    assert entry.actor == hr


def test_one_departed_deadline_for_reconciliation_and_dashboard(client, hr, org):
    """HR's edit of the deadline changes what escalation waits for and what the dashboard calls overdue."""
    from groups.models import RosterSettings
    from groups.reconcile import overdue_hours
    from portal.dashboard import sections

    client.force_login(hr)
    settings_row = RosterSettings.load()
    url = reverse("admin:groups_rostersettings_change", args=[settings_row.pk])
    form = {"departed_finding_overdue_hours": "36", "chat_retention_days": "90"}  # the form has both settings
    assert client.post(url, form).status_code == 302
    area = sections.resolve_area(hr, None)
    assert overdue_hours() == 36
    assert sections.at_risk(hr, area)["overdue_hours"] == 36
    entry = LogEntry.objects.get_for_object(RosterSettings.load()).latest("timestamp")
    assert entry.actor == hr and entry.changes_dict["departed_finding_overdue_hours"] == ["24", "36"]
    assert entry.changes_dict["chat_retention_days"] == ["180", "90"]  # the chat retention, HR-set and audited
