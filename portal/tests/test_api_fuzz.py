"""Fuzz every operation of the published schema as an HR admin against seeded data (schemathesis).

Each operation gets a bounded number of generated requests (positive data: what the schema says is
valid). The checks: no server error, and every answer — including 4xx error bodies — conforms to
the schema. Runs in well under two minutes on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime
import functools
from types import SimpleNamespace

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from rest_framework.throttling import SimpleRateThrottle
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from groups.models import ChatGroup, Department, Employee, ImportJob, Membership, RosterFinding
from groups.reconcile import reconcile_all
from groups.services import create_import_job
from violations import services as violation_services
from violations.deductions import compute_month
from violations.models import Appeal, PerformanceDeduction, Rule, Sanction, Violation

EXAMPLES_PER_OPERATION = 12
# The coverage phase would send every boundary value of every field, several hundred requests per
# operation; Hypothesis' bounded fuzzing (positive and negative data) keeps the run short.
CONFIG = schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}})
# Random ids would nearly always miss (404, "no such department"). Generated ids are folded onto the
# seeded rows' real ids (which differ between SQLite and PostgreSQL) so retrieve, update, delete and
# create run against real objects; huge ids and non-integers still probe the not-found paths.
KNOWN_IDS: dict[str, list[int]] = {}
RESOURCE_OF_PATH = {
    "departments": Department,
    "employees": Employee,
    "groups": ChatGroup,
    "memberships": Membership,
    "violations": Violation,
    "appeals": Appeal,
    "rules": Rule,
    "findings": RosterFinding,
    "imports": ImportJob,
    "deductions": PerformanceDeduction,
}
RESOURCE_OF_FIELD = {
    "department": Department,
    "parent": Department,
    "head": Employee,
    "owner": Employee,
    "approved_by": Employee,
    "admins": Employee,
    "employee": Employee,
    "group": ChatGroup,
    "rule": Rule,
    "violation": Violation,
    "sanction": Sanction,
}


def _fold(value, model):
    known = KNOWN_IDS.get(model.__name__)
    if known and isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**6:
        return known[abs(value) % len(known)]
    return value


@pytest.fixture
def _keep_test_connection():
    """Requests go straight to the WSGI app, whose request_started/finished handlers close a
    connection that is inside a transaction (the test's); Django's test client disconnects them too."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def map_path_parameters(context, path_parameters):
    """schemathesis hook: a generated ``{id}`` becomes a seeded row's id of the path's resource."""
    if path_parameters and "id" in path_parameters:
        model = RESOURCE_OF_PATH.get(context.operation.path.split("/")[3])
        if model is not None:
            path_parameters["id"] = _fold(path_parameters["id"], model)
    return path_parameters


def map_body(context, body):
    """schemathesis hook: generated foreign keys in a body become seeded rows' ids."""
    if isinstance(body, dict):
        for key in RESOURCE_OF_FIELD.keys() & body.keys():
            value, model = body[key], RESOURCE_OF_FIELD[key]
            body[key] = [_fold(v, model) for v in value] if isinstance(value, list) else _fold(value, model)
    return body


@pytest.fixture
def api_schema(db, django_user_model, _keep_test_connection):
    # The schema is for signed-in users only: read it with a token of a login that holds no role.
    reader = django_user_model.objects.create_user(username="schema_reader")
    token = Token.objects.create(user=reader)
    loaded = schemathesis.openapi.from_wsgi(
        "/api/schema/?format=json",
        get_wsgi_application(),
        config=CONFIG,
        headers={"Authorization": f"Token {token.key}"},
    )
    loaded.hook(map_path_parameters)
    loaded.hook(map_body)
    return loaded


@pytest.fixture
def seeded(org, hr, monkeypatch):
    """The conftest organisation plus more groups and roster rows, and HR's token."""
    # Throttling has its own tests; here it would turn most of the run into 429s.
    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    for n, platform in enumerate(["qq", "dingtalk", "wechat", "wecom"]):
        ChatGroup.objects.create(name=f"项目群{n}", platform=platform, kind="project", department=org["east"])
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    Membership.objects.create(group=org["sales_group"], employee=None, nickname="客户王", platform_id="wx_wang")
    Membership.objects.create(
        group=org["tech_group"],
        employee=org["tech_dev"],
        nickname="孙七",
        joined_at="2026-01-05T09:00:00+08:00",
        left_at="2026-03-01T09:00:00+08:00",
    )
    _seed_violations(org, hr)
    reconcile_all()
    create_import_job(kind="employees", acting_user=hr, original_name="花名册.csv")
    for model in [*RESOURCE_OF_PATH.values(), Sanction]:
        KNOWN_IDS[model.__name__] = list(model.objects.order_by("pk").values_list("pk", flat=True))
    yield {"Authorization": f"Token {Token.objects.create(user=hr).key}"}
    KNOWN_IDS.clear()


def _seed_violations(org, hr) -> None:
    """A reported violation, a sanctioned one with a removal, and a notified one under appeal."""
    when = timezone.now() - datetime.timedelta(days=2)
    record = functools.partial(violation_services.record_violation, acting_user=hr, group=org["sales_group"])
    record(org["east_rep"], Rule.objects.get(code="C06"), when, "广告")
    removal = record(org["tech_dev"], Rule.objects.get(code="C04"), when, "刷屏", confirmed=True)
    violation_services.apply_sanctions(removal, [{"kind": "removal"}], acting_user=hr)
    appealed = record(org["east_rep"], Rule.objects.get(code="B02"), when, "辱骂", confirmed=True)
    violation_services.apply_sanctions(appealed, acting_user=hr)
    violation_services.mark_notified(appealed, acting_user=hr)
    violation_services.file_appeal(appealed, "不服", acting_user=hr)
    compute_month(timezone.localdate(when), acting_user=hr)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_schema_operations(case, seeded):
    response = case.call(headers=seeded)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])


def _operation(path):
    return SimpleNamespace(operation=SimpleNamespace(path=path))


@pytest.mark.parametrize("generated", [0, 1, 7, 999_999, -3])
def test_generated_ids_reach_real_objects(client, seeded, generated):
    """The fuzzer's ids are folded onto seeded rows, so its requests hit real objects, not only 404s.

    Self-contained (it does not read what the fuzz run saw): any order, any selection of tests.
    """
    for resource in ("employees", "groups", "violations", "appeals", "rules", "findings", "imports", "deductions"):
        path = f"/api/v1/{resource}/{{id}}/"
        folded = map_path_parameters(_operation(path), {"id": generated})["id"]
        assert folded in KNOWN_IDS[RESOURCE_OF_PATH[resource].__name__], resource
        response = client.get(path.format(id=folded), headers=seeded)
        assert response.status_code == 200, (resource, folded, response.status_code)


def test_generated_ids_outside_the_fold_still_probe_not_found(client, seeded):
    path = "/api/v1/employees/{id}/"
    assert map_path_parameters(_operation(path), {"id": 10**7})["id"] == 10**7
    assert client.get(path.format(id=10**7), headers=seeded).status_code == 404


def test_generated_foreign_keys_in_bodies_are_real(client, seeded, org):
    body = map_body(_operation("/api/v1/departments/"), {"name": "新部门", "parent": 123, "head": 4})
    assert body["parent"] in KNOWN_IDS["Department"] and body["head"] in KNOWN_IDS["Employee"]
    created = client.post("/api/v1/departments/", body, headers=seeded, content_type="application/json")
    assert created.status_code == 201, created.content
    patch = map_body(_operation("/api/v1/groups/{id}/"), {"admins": [5, 6], "owner": 2})
    assert set(patch["admins"]) <= set(KNOWN_IDS["Employee"]) and patch["owner"] in KNOWN_IDS["Employee"]
    group = org["sales_group"].pk
    changed = client.patch(f"/api/v1/groups/{group}/", patch, headers=seeded, content_type="application/json")
    assert changed.status_code == 200, changed.content
