"""GET /api/v1/deductions/: read-only, scoped like the pages (HR/audit all, heads their subtree, employees
their own), filters month / department subtree / employee / kind, constant query count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.api.testing import api_for, ids
from violations.deductions import compute_month
from violations.models import PerformanceDeduction

from .conftest import at

URL = "/api/v1/deductions/"


@pytest.fixture
def computed(org, hr, sanction):
    sanction("C06", at(2026, 10, 5, 10, 0), employee=org["east_rep"])
    sanction("C06", at(2026, 10, 6, 10, 0), employee=org["tech_dev"], group=org["tech_group"])
    compute_month("2026-10", acting_user=hr)
    return {row.employee.employee_no: row for row in PerformanceDeduction.objects.select_related("employee")}


@pytest.mark.parametrize(
    "who, nos",
    [
        ("hr", {"E0001", "E0100", "E0101", "E0200", "E0201"}),
        ("auditor", {"E0001", "E0100", "E0101", "E0200", "E0201"}),
        ("head_sales", {"E0100", "E0101"}),
        ("head_tech", {"E0200", "E0201"}),
        ("employee_user", {"E0101"}),
        ("outsider_user", set()),
    ],
)
def test_each_role_sees_its_rows_and_404_for_others(request, computed, who, nos):
    client = api_for(request.getfixturevalue(who))
    assert ids(client.get(URL)) == sorted(computed[no].pk for no in nos)
    for no, row in computed.items():
        assert client.get(f"{URL}{row.pk}/").status_code == (200 if no in nos else 404)


def test_read_only_for_everyone(computed, hr):
    row = computed["E0101"]
    assert api_for(hr).post(URL, {}, format="json").status_code == 405
    assert api_for(hr).patch(f"{URL}{row.pk}/", {"final_score": 1}, format="json").status_code == 405
    assert api_for(hr).delete(f"{URL}{row.pk}/").status_code == 405


def test_filters(computed, hr, org):
    client = api_for(hr)
    assert len(ids(client.get(URL, {"month": "2026-10"}))) == 5
    assert ids(client.get(URL, {"month": "2026-09"})) == []
    assert ids(client.get(URL, {"department": org["sales"].pk})) == sorted([computed["E0100"].pk, computed["E0101"].pk])
    assert ids(client.get(URL, {"employee": org["tech_dev"].pk})) == [computed["E0201"].pk]
    assert len(ids(client.get(URL, {"kind": "regular"}))) == 5
    assert ids(client.get(URL, {"kind": "adjustment"})) == []
    assert client.get(URL, {"month": "10-2026"}).status_code == 400
    body = client.get(f"{URL}{computed['E0101'].pk}/").json()
    assert body["points_deducted"] == 2 and body["final_score"] == 98 and body["employee_no"] == "E0101"


def test_department_filter_cannot_reach_outside_scope(computed, head_sales, org):
    assert api_for(head_sales).get(URL, {"department": org["tech"].pk}).status_code == 400


@pytest.mark.parametrize("who", ["hr", "head_sales"])
def test_list_query_count_is_constant(request, org, hr, sanction, who):
    client = api_for(request.getfixturevalue(who))
    compute_month("2026-09", acting_user=hr)
    with CaptureQueriesContext(connection) as small:
        assert client.get(URL).status_code == 200
    compute_month("2026-10", acting_user=hr)
    compute_month("2026-08", acting_user=hr)
    with CaptureQueriesContext(connection) as large:
        response = client.get(URL)
    assert response.json()["count"] > 2
    assert len(large) == len(small) and len(large) <= 10
