"""The admin's autocomplete of chat groups (the violation record form's 群 field) pages an ordered list.

ChatGroupAdmin annotates member counts; an aggregate annotation drops Meta.ordering, and the
autocomplete view paginates whatever the admin's queryset gives it. Unordered, Django warns on every
call (UnorderedObjectListWarning, a plain-text line in production's JSON logs) and pages can repeat
or skip groups.
"""

from __future__ import annotations

import warnings

import pytest
from django.core.paginator import UnorderedObjectListWarning

from groups.models import ChatGroup

pytestmark = pytest.mark.django_db


def autocomplete(client, term: str = ""):
    params = {"app_label": "violations", "model_name": "violation", "field_name": "group", "term": term}
    return client.get("/admin/autocomplete/", params)


def test_group_autocomplete_is_ordered_and_pages_every_group(client, hr, org):
    for number in range(25):  # the autocomplete pages by 20
        ChatGroup.objects.create(
            name=f"项目群{number:02d}", platform="qq", kind="project", department=org["tech"], owner=org["tech_dev"]
        )
    client.force_login(hr)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnorderedObjectListWarning)
        first = autocomplete(client, "项目群")
        second = client.get("/admin/autocomplete/", {**first.wsgi_request.GET.dict(), "page": 2})
    assert first.status_code == 200 and second.status_code == 200
    names = [item["text"] for item in first.json()["results"] + second.json()["results"]]
    assert names == [f"项目群{number:02d}(QQ)" for number in range(25)]
    assert first.json()["pagination"]["more"] is True


def test_group_autocomplete_offers_the_match(client, hr, org):
    client.force_login(hr)
    response = autocomplete(client, "销售部")
    assert [item["text"] for item in response.json()["results"]] == ["销售部工作群(微信)"]
