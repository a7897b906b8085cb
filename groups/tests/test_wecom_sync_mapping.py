"""WeCom answers → records, on the documented samples (groups/tests/fixtures/wecom/, official examples)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from groups.wecom_sync.mapping import (
    MappingError,
    department_paths,
    parse_departments,
    parse_group_chat,
    parse_list_page,
    parse_room,
    parse_users,
)

FIXTURES = Path(__file__).parent / "fixtures" / "wecom"


def sample(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_groupchat_get_sample():
    chat = parse_group_chat(sample("wecom_externalcontact_groupchat_get.json"))
    assert (chat.chat_id, chat.name, chat.owner) == ("wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", "销售客服群", "ZhuShengBen")
    assert chat.member_version == "71217227bbd112ecfe3a49c482195cb4"
    assert chat.admins == ("pony", "sam")
    assert chat.created_at == datetime(2019, 10, 31, 7, 4, 50, tzinfo=UTC)
    abel, customer = chat.members
    assert (abel.userid, abel.external, abel.nickname, abel.nickname_set, abel.invitor) == (
        "abel", False, "客服小张", True, "jack",
    )  # fmt: skip
    assert abel.joined_at == datetime.fromtimestamp(1572505491, tz=UTC)
    assert (customer.external, customer.nickname, customer.name, customer.invitor) == (True, "顾客老王", "王语嫣", "")


def test_empty_group_nickname_is_not_set_and_shows_the_name():
    body = sample("wecom_externalcontact_groupchat_get.json")
    body["group_chat"]["member_list"][0]["group_nickname"] = ""
    member = parse_group_chat(body).members[0]
    assert (member.nickname, member.nickname_set) == ("张三丰", False)
    del body["group_chat"]["member_list"][0]["name"]  # need_name=0: the id is all there is
    member = parse_group_chat(body).members[0]
    assert (member.nickname, member.nickname_set) == ("abel", False)


def test_groupchat_list_sample():
    page = parse_list_page(sample("wecom_externalcontact_groupchat_list.json"))
    assert page.items == [("wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA", 0), ("wrOgQhDgAAcwMTB7YmDkbeBsgT_AAAA", 1)]
    assert page.next_cursor == "tJzlB9tdqfh-g7i_J-ehOz_TWcd7dSKa39_AqCIeMFw"
    assert parse_list_page({"errcode": 0, "group_chat_list": []}).next_cursor == ""


def test_msgaudit_groupchat_get_sample():
    room = parse_room("wrRoom", sample("wecom_msgaudit_groupchat_get.json"))
    assert (room.chat_id, room.name, room.owner, room.internal) == ("wrRoom", "蓦然回首", "ZhangWenChao", True)
    assert [(m.userid, m.external, m.nickname_set) for m in room.members] == [
        ("ZhangWenChao", False, False),
        ("xujinsheng", False, False),
    ]
    external = parse_room("r", {"members": [{"memberid": "wmOgQhDgAAuXFJGwbve4g4iXknfOAAAA", "jointime": 1}]})
    assert external.members[0].external


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c.pop("chat_id"), "group_chat.chat_id"),
        (lambda c: c["member_list"][1].update(type=3), "member_list[1].type"),
        (lambda c: c["member_list"][0].update(userid=""), "member_list[0].userid"),
        (lambda c: c["member_list"][0].update(join_time="昨天"), "member_list[0].join_time"),
        (lambda c: c.update(member_list="x"), "member_list: 应为列表"),
    ],
)
def test_an_answer_of_the_wrong_shape_names_the_field(change, message):
    body = sample("wecom_externalcontact_groupchat_get.json")
    change(body["group_chat"])
    with pytest.raises(MappingError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_group_chat(body)


def test_departments_and_users():
    departments = parse_departments(
        {"department": [{"id": 1, "name": "总公司", "parentid": 0}, {"id": 2, "name": "销售/华东", "parentid": 1}]}
    )
    assert department_paths(departments) == {1: "总公司", 2: "总公司/销售／华东"}  # a slash is no path separator
    users = parse_users({"userlist": [{"userid": "zhangsan", "name": "张三", "department": [2], "status": 5}]})
    assert (users[0].userid, users[0].department_ids, users[0].active) == ("zhangsan", (2,), False)
    ids = parse_users({"dept_user": [{"userid": "a", "department": 1}, {"userid": "a", "department": 2}]})
    assert [(u.userid, u.department_ids, u.name) for u in ids] == [("a", (1, 2), "")]
