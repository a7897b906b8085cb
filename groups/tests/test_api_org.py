"""Organisation endpoints: HR writes through services (audited), validation, filters, query counts."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext

from groups.models import ChatGroup, Department, Employee, Membership
from groups.services import create_department
from portal.api.testing import FAST_HASHERS, api_for, ids


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def errors(response, status=400):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


# --- employees --------------------------------------------------------------------------------


def test_hr_creates_employee_audited_with_actor(org, hr):
    body = {"employee_no": "E0300", "name": "周八", "department": org["east"].pk, "wechat_id": "wx_zhou"}
    response = api_for(hr).post("/api/v1/employees/", body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["department_path"] == "总公司/销售部/华东区" and data["status"] == "active"
    entry = LogEntry.objects.get_for_object(Employee.objects.get(employee_no="E0300")).get()
    assert entry.action == LogEntry.Action.CREATE and entry.actor == hr


def test_employee_never_exposes_the_login(org, hr, employee_user):
    data = api_for(hr).get(f"/api/v1/employees/{org['east_rep'].pk}/").json()
    assert data["has_login"] is True
    assert not {"user", "password", "username", "user_id"} & set(data)
    assert "pw-" not in str(data) and data.get("username") != "employee"


def test_hr_updates_only_changed_fields(org, hr):
    response = api_for(hr).patch(f"/api/v1/employees/{org['east_rep'].pk}/", {"title": "大区经理"}, format="json")
    assert response.status_code == 200 and response.json()["title"] == "大区经理"
    entry = LogEntry.objects.get_for_object(org["east_rep"]).filter(action=LogEntry.Action.UPDATE).get()
    assert set(entry.changes_dict) == {"title"} and entry.actor == hr


@pytest.mark.parametrize(
    ("body", "field", "text"),
    [
        ({"employee_no": "E0100"}, "employee_no", "已存在"),
        ({"employee_no": "Ｅ０１００"}, "employee_no", "已存在"),  # full-width: the same 工号
        ({"employee_no": "E0100\u200b"}, "employee_no", "已存在"),  # a zero-width space: the same 工号
        ({"employee_no": "1.23E+05"}, "employee_no", "科学计数法"),
        ({"hire_date": "1800-01-01"}, "hire_date", "1970-01-01 至 2100-12-31"),
        ({"departure_date": "2173-01-01"}, "departure_date", "1970-01-01 至 2100-12-31"),
        ({"hire_date": "2026-03-01", "departure_date": "2026-02-01"}, "non_field_errors", "离职日期不能早于入职日期"),
        ({"status": "retired"}, "status", "retired"),
        ({"department": 999999}, "department", "999999"),
        ({"name": ""}, "name", ""),
    ],
)
def test_invalid_employee_names_the_field_and_writes_nothing(org, hr, body, field, text):
    before = LogEntry.objects.count()
    error = errors(api_for(hr).patch(f"/api/v1/employees/{org['east_rep'].pk}/", body, format="json"))
    assert error["code"] == "invalid" and field in error["fields"]
    assert text in " ".join(error["fields"][field])
    assert Employee.objects.get(pk=org["east_rep"].pk).employee_no == "E0101"
    assert LogEntry.objects.count() == before


def test_delete_employee_with_group_history_is_a_conflict(org, hr):
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    error = errors(api_for(hr).delete(f"/api/v1/employees/{org['east_rep'].pk}/"), status=409)
    assert error["code"] == "protected"
    assert Employee.objects.filter(pk=org["east_rep"].pk).exists()
    assert api_for(hr).delete(f"/api/v1/employees/{org['ceo'].pk}/").status_code == 204


def test_employee_filters(org, hr):
    client = api_for(hr)
    sales_subtree = {org[k].pk for k in ("sales_head", "east_rep", "east_departed")}
    assert set(ids(client.get("/api/v1/employees/", {"department": org["sales"].pk}))) == sales_subtree
    assert ids(client.get("/api/v1/employees/", {"department": org["sales"].pk, "status": "departed"})) == [
        org["east_departed"].pk
    ]
    assert ids(client.get("/api/v1/employees/", {"search": "张三"})) == [org["east_rep"].pk]
    assert ids(client.get("/api/v1/employees/", {"search": "E020"})) == sorted(
        [org["tech_head"].pk, org["tech_dev"].pk]
    )
    error = errors(client.get("/api/v1/employees/", {"department": "x"}))
    assert list(error["fields"]) == ["department"]


def test_department_filter_cannot_reach_outside_scope(org, head_sales):
    error = errors(api_for(head_sales).get("/api/v1/employees/", {"department": org["tech"].pk}))
    assert list(error["fields"]) == ["department"]


def test_ordering_and_pagination(org, hr):
    client = api_for(hr)
    page = client.get("/api/v1/employees/", {"ordering": "-employee_no", "page_size": 2}).json()
    assert page["count"] == 6 and [e["employee_no"] for e in page["results"]] == ["E0201", "E0200"]
    assert page["next"] and "page=2" in page["next"]
    assert errors(client.get("/api/v1/employees/", {"page": 99}), status=404)["code"] == "not_found"


# --- departments ------------------------------------------------------------------------------


def test_hr_adds_department_under_parent(org, hr):
    response = api_for(hr).post("/api/v1/departments/", {"name": "华南区", "parent": org["sales"].pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["name_path"] == "总公司/销售部/华南区" and response.json()["parent"] == org["sales"].pk
    assert LogEntry.objects.get_for_object(Department.objects.get(name="华南区")).get().actor == hr


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": "华东区"}, "name"), ({"name": "a/b"}, "name"), ({"name": "新部门", "parent": None}, "parent")],
)
def test_invalid_department(org, hr, body, field):
    body = {"parent": org["sales"].pk, **body}
    error = errors(api_for(hr).post("/api/v1/departments/", body, format="json"))
    assert list(error["fields"]) == [field]
    assert Department.objects.count() == 4


def test_departments_are_not_edited_through_the_api(org, hr):
    response = api_for(hr).patch(f"/api/v1/departments/{org['sales'].pk}/", {"name": "x"}, format="json")
    assert errors(response, status=405)["code"] == "method_not_allowed"


def test_department_subtree_filter_and_parent(org, hr):
    rows = api_for(hr).get("/api/v1/departments/", {"within": org["sales"].pk}).json()["results"]
    assert [(d["name"], d["parent"]) for d in rows] == [("销售部", org["root"].pk), ("华东区", org["sales"].pk)]


# --- chat groups ------------------------------------------------------------------------------


def test_hr_creates_group_with_admins(org, hr):
    body = {
        "name": "华东项目群",
        "platform": "wecom",
        "kind": "project",
        "department": org["east"].pk,
        "owner": org["sales_head"].pk,
        "admins": [org["east_rep"].pk],
        "end_date": "2026-12-31",
    }
    response = api_for(hr).post("/api/v1/groups/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["admins"] == [org["east_rep"].pk] and response.json()["member_count"] == 0


def test_duplicate_active_group_name_is_rejected(org, hr):
    body = {"name": "销售部工作群", "platform": "wechat", "kind": "project", "department": org["east"].pk}
    error = errors(api_for(hr).post("/api/v1/groups/", body, format="json"))
    assert "同一平台上已有同名的正常群" in error["fields"]["non_field_errors"][0]


def test_dissolving_stamps_dissolved_at_and_reactivating_clears_it(org, hr):
    url = f"/api/v1/groups/{org['sales_group'].pk}/"
    dissolved = api_for(hr).patch(url, {"status": "dissolved"}, format="json").json()
    assert dissolved["status"] == "dissolved" and dissolved["dissolved_at"]
    active = api_for(hr).patch(url, {"status": "active"}, format="json").json()
    assert active["dissolved_at"] is None


def test_group_filters(org, hr):
    client = api_for(hr)
    assert ids(client.get("/api/v1/groups/", {"platform": "wecom"})) == [org["tech_group"].pk]
    assert ids(client.get("/api/v1/groups/", {"department": org["root"].pk})) == sorted(
        [org["sales_group"].pk, org["tech_group"].pk]
    )
    assert ids(client.get("/api/v1/groups/", {"department": org["sales"].pk, "kind": "department"})) == [
        org["sales_group"].pk
    ]
    assert list(errors(client.get("/api/v1/groups/", {"platform": "line"}))["fields"]) == ["platform"]


def test_memberships_filters(org, hr):
    rep = Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    guest = Membership.objects.create(group=org["sales_group"], nickname="客户王")
    left = Membership.objects.create(
        group=org["tech_group"], employee=org["tech_dev"], nickname="孙七", left_at="2026-03-01T09:00:00+08:00"
    )
    client = api_for(hr)
    assert ids(client.get("/api/v1/memberships/", {"open": "true"})) == sorted([rep.pk, guest.pk])
    assert ids(client.get("/api/v1/memberships/", {"open": "false"})) == [left.pk]
    assert ids(client.get("/api/v1/memberships/", {"outsider": "true"})) == [guest.pk]
    assert ids(client.get("/api/v1/memberships/", {"group": org["sales_group"].pk})) == sorted([rep.pk, guest.pk])
    assert ids(client.get("/api/v1/memberships/", {"employee": org["tech_dev"].pk})) == [left.pk]
    assert client.post("/api/v1/memberships/", {}, format="json").status_code == 405


# --- query counts: a list costs the same whatever its length -----------------------------------


def _grow(org, start, stop):
    for i in range(start, stop):
        dept = create_department(f"组{i}", parent=org["east"])
        emp = Employee.objects.create(employee_no=f"X{i:04d}", name=f"员工{i}", department=dept)
        dept.head = emp
        dept.save()
        group = ChatGroup.objects.create(name=f"群{i}", platform="qq", kind="project", department=dept, owner=emp)
        group.admins.add(emp, org["east_rep"])
        Membership.objects.create(group=group, employee=emp, nickname=f"组{i}-员工{i}")


@pytest.mark.parametrize("who", ["hr", "head_sales"])
@pytest.mark.parametrize("resource", ["departments", "employees", "groups", "memberships"])
def test_list_query_count_is_constant(request, org, who, resource):
    client = api_for(request.getfixturevalue(who))
    _grow(org, 0, 2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/api/v1/{resource}/").status_code == 200
    _grow(org, 2, 14)
    with CaptureQueriesContext(connection) as large:
        response = client.get(f"/api/v1/{resource}/")
    assert response.json()["count"] >= 14
    assert len(large) == len(small), [q["sql"] for q in large.captured_queries]
    # token+user, roles, scope (employee, headed departments, subtree, groups), count, page, admins
    assert len(large) <= 10
