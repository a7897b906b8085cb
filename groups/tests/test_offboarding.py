"""Access ends when employment ends: a departure, by import or any other path, ends the login, the
token and the scope in the same transaction (audited); and a departed person's account is refused
everywhere even when some path skipped that."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from groups.choices import ImportKind
from groups.models import Employee, Membership
from groups.offboarding import end_access_of_departed
from groups.roles import ROLE_DEPARTMENT_HEAD, ensure_roles, sync_derived_roles
from groups.services import create_import_job, import_employees, update_employee
from portal.api.testing import api_for
from portal.scoping import NOBODY, scope_for
from violations import services as violation_services
from violations.models import Rule, Violation

from .import_helpers import EMP_HEADER, write_csv

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Qungui-2026!"  # conftest's
REPORT = {
    "person": "E0101",
    "occurred_at": "2026-11-02T22:10",
    "description": "在群里发广告",
}
HEAD_DEPARTS = [EMP_HEADER, ["E0100", "李销售", "总公司/销售部", "销售总监", "离职", "", "2026-11-30", "wx_li"]]


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def user_entries(user):
    return LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(get_user_model()), object_pk=str(user.pk)
    )


def import_file(path, acting_user):
    job = create_import_job(kind=ImportKind.EMPLOYEES, acting_user=acting_user, original_name=path.name)
    return import_employees(path, acting_user=acting_user, job=job, reconcile=False), job


@pytest.fixture
def head_with_access(org, head_sales, client):
    """李销售 (head of 销售部) signed in, holding a token and the derived head role."""
    ensure_roles()
    sync_derived_roles(acting_user=None)
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    api = api_for(head_sales)
    client.force_login(head_sales)
    assert api.get("/api/v1/employees/").json()["count"] == 3
    assert api.get("/api/v1/memberships/").json()["count"] == 1
    assert client.get(reverse("dashboard")).status_code == 200
    assert client.get(reverse("violations:export")).status_code == 200
    assert fresh(head_sales).is_staff
    return api


def assert_locked_out(user, client, api):
    """Session, token, password login, token login and reports: all refused; no scope."""
    for url in (reverse("dashboard"), reverse("violations:export"), reverse("violations:report")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    report = {**REPORT, "rule": Rule.objects.get(code="C06").pk}
    assert client.post(reverse("violations:report"), report).status_code == 302
    assert not Violation.objects.exists()
    for path in ("/api/v1/employees/", "/api/v1/memberships/", "/api/v1/violations/"):
        assert api.get(path).status_code == 401, path
    page = Client().post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert page.status_code == 200 and "_auth_user_id" not in page.wsgi_request.session
    token_login = APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": PASSWORD}, format="json"
    )
    assert token_login.status_code == 400 and "token" not in token_login.json()
    assert scope_for(fresh(user)) == NOBODY
    assert not Employee.objects.visible_to(fresh(user)).exists()
    assert not Membership.objects.visible_to(fresh(user)).exists()


def test_import_marking_a_head_departed_ends_access_in_its_transaction(
    org, hr, head_sales, head_with_access, client, tmp_path
):
    _preview, job = import_file(write_csv(tmp_path / "r.csv", HEAD_DEPARTS), hr)
    user = fresh(head_sales)
    assert not user.is_active
    assert not Token.objects.filter(user=user).exists()
    assert not user.is_staff and not user.groups.filter(name=ROLE_DEPARTMENT_HEAD).exists()
    entry = user_entries(user).get()
    assert entry.actor == hr and entry.action == LogEntry.Action.UPDATE
    assert entry.changes == {"is_active": ["True", "False"], "auth_token": ["******", "None"]}
    assert entry.additional_data["source"] == "roster_import"
    assert entry.additional_data["detail"] == f"import job {job.pk}"
    assert entry.additional_data["employee_id"] == org["sales_head"].pk and entry.additional_data["token_deleted"]
    assert "E0100" not in str(entry.changes_text) + entry.object_repr  # ids only (PIPL retention)
    assert_locked_out(user, client, head_with_access)


def test_an_import_that_fails_leaves_the_account_alone(org, hr, head_sales, head_with_access, monkeypatch, tmp_path):
    """Same transaction: if writing the import fails after the departure, the login stays as it was."""
    import groups.services

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(groups.services, "_audit_import", boom)
    with pytest.raises(RuntimeError):
        import_file(write_csv(tmp_path / "r.csv", HEAD_DEPARTS), hr)
    assert fresh(head_sales).is_active and Token.objects.filter(user=head_sales).exists()
    assert Employee.objects.get(employee_no="E0100").status == "active"


def test_reimport_and_employees_without_login_change_nothing(org, hr, head_sales, tmp_path):
    rows = [*HEAD_DEPARTS, ["E0201", "孙七", "总公司/技术部", "工程师", "离职", "", "2026-11-30", ""]]
    path = write_csv(tmp_path / "r.csv", rows)
    import_file(path, hr)
    assert user_entries(head_sales).count() == 1
    import_file(path, hr)  # nothing left to end: no second row
    assert user_entries(head_sales).count() == 1
    assert not end_access_of_departed(acting_user=hr, source="test").changed


def test_api_departure_ends_access(org, hr, employee_user, client):
    api = api_for(employee_user)
    client.force_login(employee_user)
    response = api_for(hr).patch(
        f"/api/v1/employees/{org['east_rep'].pk}/",
        {"status": "departed", "departure_date": "2026-11-30"},
        format="json",
    )
    assert response.status_code == 200, response.content
    user = fresh(employee_user)
    assert not user.is_active and not Token.objects.filter(user=user).exists()
    entry = user_entries(user).get()
    assert entry.actor == hr and entry.additional_data["source"] == "employee_saved"
    assert_locked_out(user, client, api)


def test_service_and_plain_save_departures_end_access(org, hr, head_tech, group_admin):
    Token.objects.create(user=head_tech)
    update_employee(org["tech_head"], acting_user=hr, status="departed")
    assert not fresh(head_tech).is_active and not Token.objects.filter(user=head_tech).exists()
    assert user_entries(head_tech).get().actor == hr
    dev = org["tech_dev"]
    dev.status = "departed"
    dev.save()  # the admin's save_model, the shell: the same receiver
    assert not fresh(group_admin).is_active
    assert user_entries(group_admin).get().actor is None


def test_linking_a_login_to_a_departed_employee_deactivates_it(org, django_user_model):
    login = django_user_model.objects.create_user(username="zhaoliu", password=PASSWORD)
    departed = org["east_departed"]
    departed.user = login
    departed.save(update_fields=["user"])
    assert not fresh(login).is_active


def test_departed_account_is_refused_even_if_deactivation_was_missed(org, head_sales, head_with_access, client):
    """A path that marks people departed without the offboarding (a raw UPDATE): the login still
    works on paper (active, token kept), but nothing it opens answers."""
    Employee.objects.filter(pk=org["sales_head"].pk).update(status="departed")  # no signal, no service
    user = fresh(head_sales)
    assert user.is_active and Token.objects.filter(user=user).exists()
    assert_locked_out(user, client, head_with_access)
    with pytest.raises(PermissionDenied):
        violation_services.report_violation(
            org["east_rep"], Rule.objects.get(code="C06"), org["east_rep"].created_at, "x", acting_user=user
        )


def test_departed_hr_admin_loses_the_whole_company(org, hr, django_user_model, client):
    employee = Employee.objects.create(employee_no="E0900", name="周人资", department=org["root"], user=hr)
    client.force_login(hr)
    assert client.get(reverse("dashboard")).status_code == 200
    Employee.objects.filter(pk=employee.pk).update(status="departed")
    assert scope_for(fresh(hr)) == NOBODY
    assert client.get(reverse("dashboard")).status_code == 302


def test_session_check_adds_no_query(org, employee_user, client):
    """The employment check rides on the session's user query (select_related), not a query of its own."""
    client.force_login(employee_user)
    client.get(reverse("violations:mine"))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("violations:mine"))
    user_queries = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"] and "groups_employee" in q["sql"]]
    assert len(user_queries) == 1
    assert not [q["sql"] for q in queries if q["sql"].startswith('SELECT 1 AS "a" FROM "groups_employee"')]
