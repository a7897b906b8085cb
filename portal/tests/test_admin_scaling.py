"""Admin pages stay bounded as the data grows (issue #14): the same queries and the same page size
for N and 3N rows; searches without joins into the list or SELECT DISTINCT; the trigram indexes.

The timings at a real company's size are bench/bench_pages.py's; these tests hold the shape.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from groups.models import ChatGroup, Employee, Membership
from portal.admin_lists import EstimatedCountPaginator, _unindexed
from violations.models import Rule, Violation

pytestmark = pytest.mark.django_db


def add_employees(org, n: int, start: int, name: str = "员工") -> list[Employee]:
    return Employee.objects.bulk_create(
        Employee(employee_no=f"S{start + i:06d}", name=f"{name}{start + i}", department=org["east"]) for i in range(n)
    )


def add_members(group: ChatGroup, employees: list[Employee]) -> None:
    Membership.objects.bulk_create(
        Membership(
            group=group, employee=e, nickname=f"华东区-{e.name}", platform_id=f"wx{e.pk}", member_key=f"id:wx{e.pk}"
        )
        for e in employees
    )


def get(client, url: str):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response, [q["sql"] for q in ctx.captured_queries]


def test_chat_group_change_page_does_not_grow_with_its_members(client, hr, org):
    client.force_login(hr)
    group = org["sales_group"]
    url = reverse("admin:groups_chatgroup_change", args=[group.pk])
    add_members(group, add_employees(org, 50, 0))
    small, small_queries = get(client, url)
    add_members(group, add_employees(org, 100, 50))
    big, big_queries = get(client, url)

    assert len(big_queries) == len(small_queries) <= 25
    assert abs(len(big.content) - len(small.content)) < 100  # "50" → "150" in the member count
    text = big.content.decode()
    assert "memberships-TOTAL_FORMS" not in text  # no inline of every member
    assert "在群成员共 150 名" in text and text.count("/admin/groups/membership/") >= 20
    link = reverse("admin:groups_membership_changelist") + f"?group__id__exact={group.pk}&amp;open=yes"
    assert link in text


def test_the_members_link_lists_the_groups_members(client, hr, org):
    client.force_login(hr)
    add_members(org["sales_group"], add_employees(org, 3, 0, name="销售"))
    add_members(org["tech_group"], add_employees(org, 2, 10, name="技术"))
    url = reverse("admin:groups_membership_changelist") + f"?group__id__exact={org['sales_group'].pk}&open=yes"
    response, _ = get(client, url)
    assert [m.employee.name for m in response.context["cl"].result_list] == ["销售0", "销售1", "销售2"]


def add_violations(org, employees: list[Employee], n: int) -> None:
    rule = Rule.objects.order_by("code").first()
    start = timezone.now() - dt.timedelta(days=10)
    Violation.objects.bulk_create(
        Violation(
            employee=employees[i % len(employees)],
            rule=rule,
            occurred_at=start + dt.timedelta(minutes=i),
            description=f"在群里发广告 {i}",
            status="reported",
        )
        for i in range(n)
    )


@pytest.mark.parametrize("user", ["hr", "head_sales"])
def test_violation_changelist_does_not_grow_with_the_table(client, org, user, request):
    from groups.roles import sync_derived_roles

    user = request.getfixturevalue(user)
    sync_derived_roles()  # a head's staff flag and view permissions
    client.force_login(user)
    employees = add_employees(org, 20, 0)
    url = reverse("admin:violations_violation_changelist")
    add_violations(org, employees, 60)
    small, small_queries = get(client, url)
    add_violations(org, employees, 120)
    big, big_queries = get(client, url)

    assert len(big_queries) == len(small_queries) <= 25
    assert abs(len(big.content) - len(small.content)) < 200  # 50 rows either way; the counts differ
    sql = " ".join(big_queries).upper()
    assert "DATE_TRUNC" not in sql and "DJANGO_DATETIME_TRUNC" not in sql  # no date hierarchy
    assert big.context["cl"].result_count == 180 and len(big.context["cl"].result_list) == 50


def test_employee_search_has_no_join_into_the_list_and_no_distinct(client, hr, org):
    client.force_login(hr)
    url = reverse("admin:groups_employee_changelist") + "?q=检索"
    people = add_employees(org, 10, 0, name="检索")
    add_members(org["sales_group"], people)
    _small, small_queries = get(client, url)
    more = add_employees(org, 20, 100, name="检索")
    add_members(org["sales_group"], more)
    add_members(org["tech_group"], more)
    big, big_queries = get(client, url)

    assert len(big_queries) == len(small_queries)
    assert big.context["cl"].result_count == 30
    for sql in big_queries:
        assert "DISTINCT" not in sql.upper()
        if sql.startswith("(SELECT"):
            continue  # the id set itself (a UNION; PostgreSQL fetches a small one first)
        outer = sql.split(" IN (")[0]  # memberships only inside the IN (…) set
        assert '"groups_membership"' not in outer


def test_employee_search_still_finds_by_nickname_number_and_account(client, hr, org):
    client.force_login(hr)
    zhang = org["east_rep"]
    Membership.objects.create(group=org["sales_group"], employee=zhang, nickname="销售小张")
    base = reverse("admin:groups_employee_changelist")
    for term, expected in [("小张", {zhang}), ("e0101", {zhang}), ("wx_li", {org["sales_head"]}), ("张 三", {zhang})]:
        response, _ = get(client, f"{base}?q={term}")
        assert set(response.context["cl"].result_list) == expected, term


def test_violation_search_matches_name_description_and_rule_code(client, hr, org):
    client.force_login(hr)
    add_violations(org, [org["east_rep"], org["tech_dev"]], 6)
    base = reverse("admin:violations_violation_changelist")
    code = Rule.objects.order_by("code").first().code
    cases = [("张三", 3), ("广告 5", 1), (code.lower(), 6), ("孙七 广告", 3), ("无此人", 0)]
    for term, expected in cases:
        response, _ = get(client, f"{base}?q={term}")
        assert response.context["cl"].result_count == expected, term


def test_api_search_finds_the_same_rows_without_distinct(client, hr, org):
    client.force_login(hr)
    add_violations(org, [org["east_rep"], org["tech_dev"]], 6)
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    for url, expected in [
        ("/api/v1/violations/?search=张三", 3),
        ("/api/v1/violations/?search=孙七 广告", 3),
        ("/api/v1/memberships/?search=华东区-张", 1),
    ]:
        response, queries = get(client, url)
        assert response.json()["count"] == expected, url
        assert not any("DISTINCT" in sql.upper() for sql in queries), url


def test_deep_admin_page_fetches_its_ids_first(client, hr, org, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "deep_from", 50)
    client.force_login(hr)
    add_violations(org, [org["east_rep"]], 120)
    response, _ = get(client, reverse("admin:violations_violation_changelist") + "?p=2")
    rows = list(response.context["cl"].result_list)
    expected = list(Violation.objects.order_by("-occurred_at", "-pk")[50:100])
    assert rows == expected


ORDERINGS = [
    ["-occurred_at", "-pk"],
    ["occurred_at", "pk"],
    ["employee__department__name_path", "-pk"],
    [F("occurred_at").desc(nulls_last=True), "pk"],
    [F("employee__name").asc(), "-pk"],
]


@pytest.mark.parametrize("ordering", ORDERINGS)
def test_sorting_instead_of_walking_keeps_the_order(org, ordering):
    """The deep page's sort path (first key as COALESCE(key, key)) gives the rows in the same order."""
    add_violations(org, [org["east_rep"], org["tech_dev"], org["sales_head"]], 30)
    qs = Violation.objects.order_by(*ordering)
    fenced = _unindexed(qs)
    assert "COALESCE" in str(qs.order_by(*fenced).query).upper()
    assert list(qs.order_by(*fenced).values_list("pk", flat=True)) == list(qs.values_list("pk", flat=True))
    assert _unindexed(Violation.objects.all())  # the model's default ordering when none is set


def test_a_deep_page_of_a_small_share_sorts_and_of_a_large_share_walks(org, monkeypatch):
    """PostgreSQL: a filter keeping a small share of the table sorts its rows for a deep page (a
    head's page 500: 1.1 s walked, 0.1 s sorted); a large share, or no filter, walks the index."""
    monkeypatch.setattr(EstimatedCountPaginator, "deep_from", 10)
    add_violations(org, [org["east_rep"]], 20)
    add_violations(org, [org["tech_dev"]], 200)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE violations_violation")
    few = Violation.objects.filter(employee=org["east_rep"])
    expected = list(few.order_by("-occurred_at", "-pk")[10:15])
    for qs, sorts in ((few, True), (Violation.objects.exclude(employee=org["east_rep"]), False)):
        paginator = EstimatedCountPaginator(qs.order_by("-occurred_at", "-pk"), 5)
        with CaptureQueriesContext(connection) as ctx:
            page = paginator.page(3)
        ids_query = next(q["sql"] for q in ctx.captured_queries if "OFFSET 10" in q["sql"])
        assert ("COALESCE" in ids_query.upper()) == (sorts and connection.vendor == "postgresql")
        if sorts:
            assert list(page.object_list) == expected


def test_estimated_count_above_the_exact_limit(org, monkeypatch):
    """Exact up to the limit everywhere; above it PostgreSQL answers the planner's estimate."""
    add_violations(org, [org["east_rep"]], 30)
    monkeypatch.setattr(EstimatedCountPaginator, "exact_up_to", 10)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE violations_violation")
    paginator = EstimatedCountPaginator(Violation.objects.filter(status="reported"), 5)
    assert paginator.count > 10
    assert paginator.estimated == (connection.vendor == "postgresql")
    if connection.vendor != "postgresql":
        assert paginator.count == 30
    exact = EstimatedCountPaginator(Violation.objects.filter(description__endswith=" 1"), 5)
    assert exact.count == 1 and not exact.estimated


TRIGRAM = {
    "groups_employee": ["employee_name_trgm", "employee_employee_no_trgm"],
    "groups_membership": ["membership_nickname_trgm", "membership_platform_id_trgm"],
    "groups_rosterfinding": ["rosterfinding_detail_trgm"],
}  # the violations' description: its pair index alone (violations 0020)
BIGRAM = {
    "groups_employee": ["employee_name_bigram", "employee_employee_no_bigram", "employee_wechat_id_bigram"],
    "groups_membership": ["membership_nickname_bigram", "membership_platform_id_bigram"],
    "violations_violation": ["violation_description_bigram"],
}
BTREE = {
    "groups_membership": ["membership_group_nickname", "membership_nickname"],
    "groups_chatgroup": ["chatgroup_name_id"],
    "groups_rosterfinding": ["rosterfinding_first_seen"],
    "violations_violation": [
        "violation_time_id",
        "violation_status_recent",
        "violation_open_appeal_window",
        "violation_employee_cover",
    ],
    "violations_sanction": ["sanction_active_kind"],
}


def test_migrations_create_the_list_indexes_and_trigram_indexes_on_postgresql():
    with connection.cursor() as cursor:
        for table, names in BTREE.items():
            constraints = connection.introspection.get_constraints(cursor, table)
            assert set(names) <= set(constraints), table
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
            assert cursor.fetchone()
            for table, names in TRIGRAM.items():
                cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
                defs = dict(cursor.fetchall())
                for name in names:
                    assert "USING gin" in defs[name] and "upper(" in defs[name] and "gin_trgm_ops" in defs[name]
            for table, names in BIGRAM.items():
                cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
                defs = dict(cursor.fetchall())
                for name in names:
                    # the description's pairs are of its text without separators (violations 0023)
                    source = "regexp_replace(upper(" if name == "violation_description_bigram" else "upper("
                    assert f"USING gin (qungui_bigrams({source}" in defs[name], defs.get(name)
        else:  # SQLite: no pg_trgm, the migration is a no-op there (icontains scans)
            for table, names in TRIGRAM.items():
                assert not set(names) & set(connection.introspection.get_constraints(cursor, table))


def add_fines(violations) -> None:
    from violations.models import Sanction

    Sanction.objects.bulk_create(
        Sanction(violation=v, employee_id=v.employee_id, kind="fine", amount=50) for v in violations
    )


LIST_VARIANTS = [
    ("admin:violations_violation_changelist", "?o=3"),  # sorted by department
    ("admin:violations_violation_changelist", "?o=-3"),
    ("admin:violations_violation_changelist", "?sanction=fine"),
    ("admin:violations_violation_changelist", "?status__exact=reported"),
    ("admin:violations_violation_changelist", "?p=2"),  # a deep page (deep_from lowered below)
    ("admin:groups_membership_changelist", "?o=1"),
    ("admin:groups_rosterfinding_changelist", ""),
    ("admin:violations_appeal_changelist", ""),
]


@pytest.mark.parametrize("user", ["hr", "head_sales"])
@pytest.mark.parametrize(("name", "query"), LIST_VARIANTS)
def test_sorted_filtered_and_deep_lists_do_not_grow(client, org, user, request, name, query, monkeypatch):
    """Each list HR and a head open: the same queries and (nearly) the same HTML for N and 3N rows."""
    from groups.roles import sync_derived_roles

    monkeypatch.setattr(EstimatedCountPaginator, "deep_from", 50)
    user = request.getfixturevalue(user)
    sync_derived_roles()
    client.force_login(user)
    url = reverse(name) + query
    employees = add_employees(org, 20, 0)

    def grow(n: int, start: int) -> None:
        add_violations(org, employees, n)
        add_fines(Violation.objects.order_by("-pk")[:n])
        add_members(org["sales_group"], add_employees(org, n, 1000 + start))

    grow(120, 0)
    small, small_queries = get(client, url)
    grow(240, 500)
    big, big_queries = get(client, url)
    assert len(big_queries) == len(small_queries) <= 25, url
    assert abs(len(big.content) - len(small.content)) < 600, url  # a page of rows either way; counts differ


def test_sort_by_department_orders_by_the_department_path(client, hr, org):
    client.force_login(hr)
    add_violations(org, [org["east_rep"], org["tech_dev"], org["sales_head"]], 9)
    response, _ = get(client, reverse("admin:violations_violation_changelist") + "?o=3")
    rows = list(response.context["cl"].result_list)
    expected = list(Violation.objects.order_by("employee__department__name_path", "-pk"))
    assert rows == expected
    response, _ = get(client, reverse("admin:violations_violation_changelist") + "?o=-3")
    assert list(response.context["cl"].result_list) == list(
        Violation.objects.order_by("-employee__department__name_path", "-pk")
    )


API_LISTS = ["/api/v1/violations/", "/api/v1/violations/?sanction_kind=fine", "/api/v1/memberships/"]


@pytest.mark.parametrize("user", ["hr", "head_sales"])
@pytest.mark.parametrize("url", [*API_LISTS, "/api/v1/findings/"])
def test_api_lists_do_not_grow_with_the_table(client, org, user, request, url):
    from groups.roles import sync_derived_roles

    user = request.getfixturevalue(user)
    sync_derived_roles()
    client.force_login(user)
    employees = add_employees(org, 60, 0)  # more than a page of each
    add_violations(org, employees, 60)
    add_fines(Violation.objects.all())
    add_members(org["sales_group"], employees)
    small, small_queries = get(client, url)
    more = add_employees(org, 120, 100)
    add_violations(org, more, 120)
    add_fines(Violation.objects.filter(employee__in=more))
    add_members(org["sales_group"], more)
    big, big_queries = get(client, url)
    assert len(big_queries) == len(small_queries), url
    assert abs(len(big.content) - len(small.content)) < 400, url
