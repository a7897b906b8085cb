"""Who sees and changes what through /api/v1/: every role, including ids guessed across departments."""

from __future__ import annotations

import pytest

from groups.models import ChatGroup, Department, Employee, Membership
from portal.api.testing import FAST_HASHERS, api_for, ids

ROLES = ["hr", "auditor", "head_sales", "head_tech", "group_admin", "employee_user", "outsider_user"]
RESOURCES = {"departments": Department, "employees": Employee, "groups": ChatGroup, "memberships": Membership}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def rosters(org):
    return {
        "east_rep": Membership.objects.create(
            group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三"
        ),
        "outsider": Membership.objects.create(group=org["sales_group"], nickname="客户王", platform_id="wx_wang"),
        "tech_dev": Membership.objects.create(group=org["tech_group"], employee=org["tech_dev"], nickname="孙七"),
        "ceo": Membership.objects.create(group=org["tech_group"], employee=org["ceo"], nickname="王总"),
    }


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("resource", RESOURCES)
def test_lists_show_exactly_the_visible_rows(request, rosters, who, resource):
    user = request.getfixturevalue(who)
    expected = sorted(RESOURCES[resource].objects.visible_to(user).values_list("pk", flat=True))
    assert ids(api_for(user).get(f"/api/v1/{resource}/", {"page_size": 500})) == expected


@pytest.mark.parametrize(
    ("who", "counts"),
    [
        ("hr", {"departments": 4, "employees": 6, "groups": 2, "memberships": 4}),
        ("auditor", {"departments": 4, "employees": 6, "groups": 2, "memberships": 4}),
        ("head_sales", {"departments": 2, "employees": 3, "groups": 1, "memberships": 2}),
        ("head_tech", {"departments": 1, "employees": 2, "groups": 1, "memberships": 2}),
        ("employee_user", {"departments": 0, "employees": 1, "groups": 0, "memberships": 1}),
        ("outsider_user", {"departments": 0, "employees": 0, "groups": 0, "memberships": 0}),
    ],
)
def test_list_sizes_per_role(request, rosters, who, counts):
    client = api_for(request.getfixturevalue(who))
    assert {name: client.get(f"/api/v1/{name}/").json()["count"] for name in RESOURCES} == counts


def _other_department_objects(org, rosters, side):
    if side == "tech":
        return {
            "departments": org["tech"],
            "employees": org["tech_head"],
            "groups": org["tech_group"],
            "memberships": rosters["ceo"],
        }
    return {
        "departments": org["east"],
        "employees": org["east_rep"],
        "groups": org["sales_group"],
        "memberships": rosters["east_rep"],
    }


@pytest.mark.parametrize(("who", "other_side"), [("head_sales", "tech"), ("head_tech", "sales")])
@pytest.mark.parametrize("resource", RESOURCES)
def test_guessing_another_departments_id_is_404(request, org, rosters, who, other_side, resource):
    client = api_for(request.getfixturevalue(who))
    target = _other_department_objects(org, rosters, other_side)[resource]
    response = client.get(f"/api/v1/{resource}/{target.pk}/")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": response.json()["error"]["message"], "fields": {}}
    }


def test_same_id_of_own_department_is_visible(org, rosters, head_sales):
    client = api_for(head_sales)
    for resource, target in _other_department_objects(org, rosters, "sales").items():
        assert client.get(f"/api/v1/{resource}/{target.pk}/").status_code == 200, resource


def test_employee_sees_own_record_only(org, employee_user):
    client = api_for(employee_user)
    assert client.get(f"/api/v1/employees/{org['east_rep'].pk}/").status_code == 200
    assert client.get(f"/api/v1/employees/{org['sales_head'].pk}/").status_code == 404
    assert client.get(f"/api/v1/departments/{org['east'].pk}/").status_code == 404


def test_group_admin_sees_the_groups_roster_not_the_department(org, rosters, group_admin):
    client = api_for(group_admin)
    assert client.get(f"/api/v1/groups/{org['sales_group'].pk}/").status_code == 200
    assert client.get(f"/api/v1/memberships/{rosters['outsider'].pk}/").status_code == 200
    assert client.get(f"/api/v1/employees/{org['east_rep'].pk}/").status_code == 200  # on the roster
    assert client.get(f"/api/v1/employees/{org['sales_head'].pk}/").status_code == 404  # not on it


WRITES = [
    ("post", "/api/v1/departments/", lambda org: {"name": "华南区", "parent": org["sales"].pk}),
    ("post", "/api/v1/employees/", lambda org: {"employee_no": "E0900", "name": "新人", "department": org["east"].pk}),
    ("patch", "/api/v1/employees/{east_rep}/", lambda org: {"title": "经理"}),
    ("delete", "/api/v1/employees/{east_rep}/", lambda org: None),
    (
        "post",
        "/api/v1/groups/",
        lambda org: {"name": "新群", "platform": "qq", "kind": "project", "department": org["east"].pk},
    ),
    (
        "put",
        "/api/v1/groups/{sales_group}/",
        lambda org: {"name": "x", "platform": "qq", "kind": "project", "department": org["east"].pk},
    ),
    ("delete", "/api/v1/groups/{sales_group}/", lambda org: None),
]


@pytest.mark.parametrize("who", ["auditor", "head_sales", "head_tech", "group_admin", "employee_user", "outsider_user"])
@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_only_hr_writes(request, org, who, method, url, body):
    client = api_for(request.getfixturevalue(who))
    url = url.format(east_rep=org["east_rep"].pk, sales_group=org["sales_group"].pk)
    response = getattr(client, method)(url, body(org), format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Employee.objects.filter(pk=org["east_rep"].pk, title="销售代表").exists()
    assert ChatGroup.objects.filter(pk=org["sales_group"].pk, name="销售部工作群").exists()
    assert not Department.objects.filter(name="华南区").exists()


@pytest.mark.parametrize(("method", "url", "body"), WRITES)
def test_hr_writes(org, hr, method, url, body):
    url = url.format(east_rep=org["east_rep"].pk, sales_group=org["sales_group"].pk)
    response = getattr(api_for(hr), method)(url, body(org), format="json")
    assert response.status_code in {200, 201, 204}, response.content


@pytest.mark.parametrize("resource", RESOURCES)
def test_anonymous_gets_401(org, resource):
    response = api_for().get(f"/api/v1/{resource}/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"
