"""WeCom API answers → the portal's records. Pure functions: no database, no network.

Field names as the server API documents them (developer.work.weixin.qq.com):

- ``externalcontact/groupchat/list`` (doc path 92120): ``group_chat_list[{chat_id, status}]``,
  ``next_cursor`` ("" or absent on the last page). ``status`` 0 normal, 1 离职待继承 (owner left,
  waiting for a successor), 2 离职继承中, 3 离职继承完成.
- ``externalcontact/groupchat/get`` with ``need_name=1`` (doc path 92122): ``group_chat{chat_id,
  name, owner, create_time, notice, member_list[{userid, type, join_time, join_scene, invitor
  {userid}, group_nickname, name, unionid}], admin_list[{userid}], member_version}``. ``type`` 1 is
  a member of the company, 2 an external contact (a customer: the outsider rules apply).
- ``msgaudit/groupchat/get`` (doc path 92951, internal groups seen by the chat archive):
  ``roomname, creator, room_create_time, notice, members[{memberid, jointime}]``.
- ``department/list`` (doc path 90208): ``department[{id, name, parentid, order}]``;
  ``user/list`` (doc path 90201): ``userlist[{userid, name, department[], status}]`` with
  ``status`` 1 active, 2 disabled, 4 not activated, 5 left the company; ``user/list_id`` (doc path
  96067): ``dept_user[{userid, department}]`` + ``next_cursor`` (ids only, no names).

A member's ``group_nickname`` is the nickname they set in that group; **empty means not set**, and
the group then shows the member's name. The portal stores what the group shows (the name), never
an empty nickname, and keeps ``nickname_set`` so that the checks can say "not set" rather than
comparing "" with the convention.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EXTERNAL_TYPE = 2
# External contacts' ids (customers on WeChat or WeCom of another company) in the chat archive's
# member lists: ``wm…`` / ``wo…``; members of the company have the userid HR assigned.
EXTERNAL_PREFIXES = ("wm", "wo")
STATUS_LABELS = {0: "normal", 1: "owner_left", 2: "inheriting", 3: "inherited"}
USER_ACTIVE, USER_DISABLED, USER_INACTIVE, USER_LEFT = 1, 2, 4, 5


class MappingError(ValueError):
    """An answer that does not have the documented shape; the message names the field."""


@dataclass(frozen=True)
class Member:
    """One line of a group's member list, as the group shows it."""

    userid: str
    external: bool
    nickname: str  # the group nickname, else the name, else the userid: never empty
    nickname_set: bool
    name: str = ""
    joined_at: datetime | None = None
    invitor: str = ""
    is_admin: bool = False


@dataclass(frozen=True)
class GroupChat:
    """A group and its members (a customer group from groupchat/get, an internal one from msgaudit)."""

    chat_id: str
    name: str
    owner: str
    members: tuple[Member, ...]
    admins: tuple[str, ...] = ()
    member_version: str = ""
    created_at: datetime | None = None
    internal: bool = False


@dataclass(frozen=True)
class Department:
    id: int
    name: str
    parent_id: int


@dataclass(frozen=True)
class User:
    userid: str
    name: str = ""
    department_ids: tuple[int, ...] = ()
    status: int = USER_ACTIVE

    @property
    def active(self) -> bool:
        return self.status == USER_ACTIVE


@dataclass
class Page:
    """One page of a cursor-paged list call."""

    items: list[Any] = field(default_factory=list)
    next_cursor: str = ""


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _time(value: Any, what: str) -> datetime | None:
    if value in (None, "", 0):
        return None
    if type(value) is not int or value < 0 or value > 4102444800:  # seconds, before 2100
        raise MappingError(f"{what}: 应为秒级时间戳,实为 {value!r}")
    return datetime.fromtimestamp(value, tz=UTC)


def _object(body: Any, key: str) -> dict:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise MappingError(f"{key}: 缺少或不是对象")
    return value


def _list(body: dict, key: str) -> list:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(f"{key}: 应为列表")
    return value


def parse_list_page(body: dict) -> Page:
    """``groupchat/list``: the (chat_id, status) pairs and the cursor of the next page."""
    items = []
    for i, row in enumerate(_list(body, "group_chat_list")):
        chat_id = _text(row.get("chat_id")) if isinstance(row, dict) else ""
        if not chat_id:
            raise MappingError(f"group_chat_list[{i}].chat_id: 缺少群ID")
        status = row.get("status", 0)
        items.append((chat_id, status if type(status) is int else 0))
    return Page(items, _text(body.get("next_cursor")))


def _member(row: Any, i: int, admins: set[str]) -> Member:
    if not isinstance(row, dict):
        raise MappingError(f"member_list[{i}]: 不是对象")
    userid = _text(row.get("userid"))
    if not userid:
        raise MappingError(f"member_list[{i}].userid: 缺少成员ID")
    kind = row.get("type", 1)
    if kind not in (1, 2):
        raise MappingError(f"member_list[{i}].type: 应为 1(企业成员)或 2(外部联系人),实为 {kind!r}")
    nickname, name = _text(row.get("group_nickname")), _text(row.get("name"))
    invitor = row.get("invitor")
    return Member(
        userid=userid,
        external=kind == EXTERNAL_TYPE,
        nickname=nickname or name or userid,
        nickname_set=bool(nickname),
        name=name,
        joined_at=_time(row.get("join_time"), f"member_list[{i}].join_time"),
        invitor=_text(invitor.get("userid")) if isinstance(invitor, dict) else "",
        is_admin=userid in admins,
    )


def parse_group_chat(body: dict) -> GroupChat:
    """``groupchat/get`` (need_name=1) → the group and its members."""
    chat = _object(body, "group_chat")
    chat_id = _text(chat.get("chat_id"))
    if not chat_id:
        raise MappingError("group_chat.chat_id: 缺少群ID")
    admins = {_text(a.get("userid")) for a in _list(chat, "admin_list") if isinstance(a, dict)} - {""}
    members = tuple(_member(row, i, admins) for i, row in enumerate(_list(chat, "member_list")))
    return GroupChat(
        chat_id=chat_id,
        name=_text(chat.get("name")),
        owner=_text(chat.get("owner")),
        members=members,
        admins=tuple(sorted(admins)),
        member_version=_text(chat.get("member_version")),
        created_at=_time(chat.get("create_time"), "group_chat.create_time"),
    )


def is_external_id(userid: str) -> bool:
    return userid.startswith(EXTERNAL_PREFIXES)


def parse_room(roomid: str, body: dict) -> GroupChat:
    """``msgaudit/groupchat/get`` → an internal group (no nicknames in this API: members are shown
    by their id until the roster or the chat archive names them)."""
    members = []
    for i, row in enumerate(_list(body, "members")):
        memberid = _text(row.get("memberid")) if isinstance(row, dict) else ""
        if not memberid:
            raise MappingError(f"members[{i}].memberid: 缺少成员ID")
        members.append(
            Member(
                userid=memberid,
                external=is_external_id(memberid),
                nickname=memberid,
                nickname_set=False,
                joined_at=_time(row.get("jointime"), f"members[{i}].jointime"),
            )
        )
    creator = _text(body.get("creator"))
    return GroupChat(
        chat_id=roomid,
        name=_text(body.get("roomname")),
        owner=creator,
        members=tuple(members),
        created_at=_time(body.get("room_create_time"), "room_create_time"),
        internal=True,
    )


def parse_departments(body: dict) -> list[Department]:
    out = []
    for i, row in enumerate(_list(body, "department")):
        if not isinstance(row, dict) or type(row.get("id")) is not int or not _text(row.get("name")):
            raise MappingError(f"department[{i}]: 缺少 id 或 name")
        parent = row.get("parentid", 0)
        out.append(Department(row["id"], _text(row["name"]).replace("/", "／"), parent if type(parent) is int else 0))
    return out


def department_paths(departments: Iterable[Department]) -> dict[int, str]:
    """Department id → its path from the root (总公司/销售部/华东区); a cycle or a missing parent ends
    the path where it breaks (WeCom's root has parentid 0)."""
    by_id = {d.id: d for d in departments}
    paths: dict[int, str] = {}
    for dept in by_id.values():
        names, seen = [], set()
        node: Department | None = dept
        while node is not None and node.id not in seen:
            seen.add(node.id)
            names.append(node.name)
            node = by_id.get(node.parent_id)
        paths[dept.id] = "/".join(reversed(names))
    return paths


def parse_users(body: dict) -> list[User]:
    """``user/list`` (``userlist``) or ``user/list_id`` (``dept_user``: ids and one department each)."""
    if "dept_user" in body:
        merged: dict[str, list[int]] = {}
        for i, row in enumerate(_list(body, "dept_user")):
            userid = _text(row.get("userid")) if isinstance(row, dict) else ""
            if not userid:
                raise MappingError(f"dept_user[{i}].userid: 缺少成员ID")
            dept = row.get("department")
            merged.setdefault(userid, []).extend([dept] if type(dept) is int else [])
        return [User(userid, department_ids=tuple(depts)) for userid, depts in merged.items()]
    out = []
    for i, row in enumerate(_list(body, "userlist")):
        userid = _text(row.get("userid")) if isinstance(row, dict) else ""
        if not userid:
            raise MappingError(f"userlist[{i}].userid: 缺少成员ID")
        depts = tuple(d for d in _list(row, "department") if type(d) is int)
        status = row.get("status", USER_ACTIVE)
        out.append(User(userid, _text(row.get("name")), depts, status if type(status) is int else USER_ACTIVE))
    return out
