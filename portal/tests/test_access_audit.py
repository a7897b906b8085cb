"""PIPL: opening one employee's record (admin page or API) leaves an ACCESS entry in the audit trail."""

from __future__ import annotations

from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from rest_framework.test import APIClient

from groups.models import Employee


def _views_of(employee):
    return LogEntry.objects.filter(
        action=LogEntry.Action.ACCESS,
        content_type=ContentType.objects.get_for_model(Employee),
        object_pk=str(employee.pk),
    )


def test_admin_change_page_records_who_opened_the_record(client, hr, org):
    person = org["east_rep"]
    client.force_login(hr)
    response = client.get(f"/admin/groups/employee/{person.pk}/change/")
    assert response.status_code == 200
    entry = _views_of(person).get()
    assert entry.actor == hr
    assert entry.additional_data["access"] == "view"
    assert entry.additional_data["detail"] == "admin"


def test_admin_list_and_a_missing_record_record_no_view(client, hr, org):
    client.force_login(hr)
    assert client.get("/admin/groups/employee/").status_code == 200
    client.get("/admin/groups/employee/999999/change/")
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_saving_the_record_is_a_change_not_a_view(client, hr, org):
    person = org["east_rep"]
    client.force_login(hr)
    client.post(
        f"/admin/groups/employee/{person.pk}/change/",
        {
            "employee_no": person.employee_no,
            "name": person.name,
            "department": person.department_id,
            "title": "大区经理",
            "status": person.status,
            "_save": "1",
        },
    )
    assert not _views_of(person).exists()


def test_api_retrieve_records_the_view_but_the_list_does_not(hr, org):
    person = org["east_rep"]
    api = APIClient()
    api.force_authenticate(hr)
    assert api.get("/api/v1/employees/").status_code == 200
    assert not _views_of(person).exists()
    response = api.get(f"/api/v1/employees/{person.pk}/")
    assert response.status_code == 200
    assert response.json()["employee_no"] == person.employee_no
    entry = _views_of(person).get()
    assert (entry.actor, entry.additional_data["detail"]) == (hr, "api")


def test_out_of_scope_api_retrieve_is_refused_and_not_recorded(head_tech, org):
    api = APIClient()
    api.force_authenticate(head_tech)
    assert api.get(f"/api/v1/employees/{org['east_rep'].pk}/").status_code == 404
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()
