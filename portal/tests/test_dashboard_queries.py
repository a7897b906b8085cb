"""The dashboard costs a fixed number of queries, whatever the size of the organisation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.dashboard import links
from portal.dashboard import sections as dash
from portal.scoping import reset_scope

from .dashboard_data import NOW, THIS_MONTH, add_departments, build

pytestmark = pytest.mark.django_db

# settings 1, at-risk 2, appeals 2, findings 5 (kinds rollup, overdue, oldest departed members' ids,
# the other kinds' ids when fewer than ten are departed — as here —, their names), removals 1,
# suspicions waiting (待核实) 1, staff per department 1 (tiles and breakdown), org 2 (groups,
# membership rollup), violations 1, trend 1, breakdown 1 + 5, worst groups 3.
BUILD_QUERIES = 26


def count_view_queries(client, user) -> int:
    client.force_login(user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("dashboard"), {"month": "2026-10"})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def count_build_queries(user) -> int:
    area = dash.resolve_area(user, None)
    with CaptureQueriesContext(connection) as ctx:
        links.attach_links(dash.build(user, area, THIS_MONTH, now=NOW), area, THIS_MONTH)
    return len(ctx.captured_queries)


@pytest.mark.parametrize("role", ["head_sales", "hr"])
def test_query_count_is_fixed(request, client, org, role):
    user = request.getfixturevalue(role)
    build(org)
    add_departments(org, 2)
    small_view, small_build = count_view_queries(client, user), count_build_queries(user)
    add_departments(org, 18)
    reset_scope(user)  # as on a new request: the scope is resolved again
    large_view, large_build = count_view_queries(client, user), count_build_queries(user)
    assert small_build == large_build == BUILD_QUERIES
    assert small_view == large_view
    assert large_view <= BUILD_QUERIES + 12  # session, user, scope, area, department picker, session save
