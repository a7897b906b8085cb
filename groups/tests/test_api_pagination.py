"""Keyset (cursor) pagination for the large lists; page numbers kept for shallow pages (issue #14)."""

from __future__ import annotations

import datetime
import random

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from groups.models import ChatGroup, Membership
from portal.api import pagination
from portal.api.testing import FAST_HASHERS, api_for

URL = "/api/v1/memberships/"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def roster(org):
    """37 memberships over three groups, with repeated nicknames and some NULL left_at / joined_at."""
    rng = random.Random(14)
    extra = ChatGroup.objects.create(name="A项目群", platform="qq", kind="project", department=org["tech"])
    groups = [org["sales_group"], org["tech_group"], extra]
    base = timezone.now() - datetime.timedelta(days=30)
    rows = []
    for i in range(37):
        joined = None if i % 5 == 0 else base + datetime.timedelta(hours=rng.randint(0, 3))
        left = joined + datetime.timedelta(days=1) if joined and i % 3 == 0 else None
        rows.append(
            Membership(
                group=groups[i % 3],
                nickname=rng.choice(["阿明", "小红", "Bob", "张三"]),
                platform_id=f"p{i}",
                member_key=f"id:p{i}",
                joined_at=joined,
                left_at=left,
            )
        )
    Membership.objects.bulk_create(rows)
    return rows


def walk(client, params, *, backwards_check=True):
    """Every row reached by following ``next`` from ``?cursor=``; then back again with ``previous``."""
    response = client.get(URL, {**params, "cursor": ""})
    assert response.status_code == 200, response.content
    pages = [response.json()]
    assert "count" not in pages[0] and pages[0]["previous"] is None
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
        assert len(pages) < 100
    forward = [row["id"] for page in pages for row in page["results"]]
    if backwards_check and len(pages) > 1:
        back, page = [], pages[-1]
        while page["previous"]:
            page = client.get(page["previous"]).json()
            back = [row["id"] for row in page["results"]] + back
        assert back == forward[: len(back)] and len(back) == len(forward) - len(pages[-1]["results"])
    return forward


@pytest.mark.parametrize(
    "ordering",
    [None, "nickname", "-nickname", "joined_at", "-joined_at", "left_at", "-left_at", "group__name", "-created_at"],
)
def test_cursor_walk_equals_the_full_ordered_list(roster, hr, ordering):
    client = api_for(hr)
    params = {"page_size": 4, **({"ordering": ordering} if ordering else {})}
    everything = client.get(URL, {**params, "page_size": 500}).json()
    assert everything["count"] == 37
    walked = walk(client, params)
    assert sorted(walked) == sorted(row["id"] for row in everything["results"]) and len(set(walked)) == 37
    # The documented order: the list's ordering, the id appended, NULLs last ascending / first descending.
    name = (ordering or "group_id").lstrip("-")
    desc = bool(ordering and ordering.startswith("-"))
    key = F(name).desc(nulls_first=True) if desc else F(name).asc(nulls_last=True)
    tail = ("-id",) if desc else (("nickname", "id") if ordering is None else ("id",))
    assert walked == list(Membership.objects.order_by(key, *tail).values_list("id", flat=True))


def test_default_ordering_is_the_indexed_group_id_nickname_id(roster, hr):
    rows = api_for(hr).get(URL, {"page_size": 500}).json()["results"]
    expected = list(Membership.objects.order_by("group_id", "nickname", "id").values_list("id", flat=True))
    assert [row["id"] for row in rows] == expected


def test_cursor_respects_scope(roster, head_tech):
    client = api_for(head_tech)
    visible = sorted(row["id"] for row in client.get(URL, {"page_size": 500}).json()["results"])
    assert visible and len(visible) < 37
    assert sorted(walk(client, {"page_size": 3})) == visible


def test_cursor_page_query_count_does_not_grow_with_depth(roster, hr):
    client = api_for(hr)
    first = client.get(URL, {"page_size": 3, "cursor": ""}).json()
    deep = first
    for _ in range(8):
        deep = client.get(deep["next"]).json()
    with CaptureQueriesContext(connection) as shallow_queries:
        client.get(first["next"])
    with CaptureQueriesContext(connection) as deep_queries:
        client.get(deep["next"])
    assert len(deep_queries) == len(shallow_queries)
    # no OFFSET and no COUNT: the cursor is a WHERE on the sort key
    sql = [q["sql"].upper() for q in deep_queries if "GROUPS_MEMBERSHIP" in q["sql"].upper()]
    assert sql and not any(" OFFSET " in s or "COUNT(" in s for s in sql)


def test_deep_page_numbers_answer_400_naming_the_cursor(roster, hr, monkeypatch):
    monkeypatch.setattr(pagination.StandardPagination, "max_page_offset", 10)
    client = api_for(hr)
    assert client.get(URL, {"page_size": 5, "page": 2}).status_code == 200  # rows 5..9
    response = client.get(URL, {"page_size": 5, "page": 3})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "page_too_deep" and "cursor" in error["message"]


def test_page_numbers_keep_their_contract(roster, hr):
    page = api_for(hr).get(URL, {"page_size": 10, "page": 2}).json()
    assert page["count"] == 37 and len(page["results"]) == 10 and "page=3" in page["next"]


@pytest.mark.parametrize("cursor", ["not-base64!", "eyJrIjpbIm5pY2tuYW1lIl19"])
def test_a_broken_or_foreign_cursor_is_a_400(roster, hr, cursor):
    response = api_for(hr).get(URL, {"cursor": cursor})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


def test_a_cursor_from_another_ordering_is_refused(roster, hr):
    client = api_for(hr)
    next_link = client.get(URL, {"page_size": 3, "cursor": "", "ordering": "nickname"}).json()["next"]
    cursor = next_link.split("cursor=")[1].split("&")[0]
    response = client.get(URL, {"cursor": cursor, "ordering": "joined_at"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("url", "key"),
    [("/api/v1/violations/", "id"), ("/api/v1/findings/", "id"), ("/api/v1/employees/", "id")],
)
def test_cursor_on_the_other_large_lists(org, hr, url, key):
    response = api_for(hr).get(url, {"cursor": ""})
    assert response.status_code == 200 and set(response.json()) == {"next", "previous", "results"}
