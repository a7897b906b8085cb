"""An in-process WeCom for the sync's tests: the documented bodies, cursor paging, errcodes, faults.

It answers as the HTTP API does (the bodies of docs paths 92120, 92122, 92951, 90208, 90201) and is
what ``groups.wecom_sync.client.raise_for`` sorts; the HTTP path is tested against the local server.
"""

from __future__ import annotations

import copy
from typing import Any

from groups.wecom_sync.client import raise_for


class Killed(BaseException):
    """A worker killed mid-call (BaseException: nothing in the sync catches it)."""


def member(userid: str, *, nickname: str = "", name: str = "", external: bool = False, join_time: int = 1700000000):
    row: dict[str, Any] = {
        "userid": userid,
        "type": 2 if external else 1,
        "join_time": join_time,
        "join_scene": 1,
        "group_nickname": nickname,
        "name": name or userid,
    }
    if not external:
        row["invitor"] = {"userid": "owner0"}
    return row


def group_chat(chat_id: str, members: list[dict], *, owner: str = "", name: str = "", version: str = "v1", admins=()):
    return {
        "chat_id": chat_id,
        "name": name or f"客户群{chat_id[-4:]}",
        "owner": owner or members[0]["userid"],
        "create_time": 1690000000,
        "notice": "",
        "member_list": members,
        "admin_list": [{"userid": a} for a in admins],
        "member_version": version,
    }


class FakeWeCom:
    """``chats``: chat_id → the ``group_chat`` object groupchat/get answers. ``faults``: call number
    (1-based, counted over every call) → a body answered instead, or ``Killed`` to raise.
    ``failing``: chat_id → errcode answered by groupchat/get for that chat."""

    def __init__(self, chats: dict[str, dict] | None = None) -> None:
        self.chats: dict[str, dict] = chats or {}
        self.status: dict[str, int] = {}
        self.failing: dict[str, int] = {}
        self.faults: dict[int, Any] = {}
        self.departments: list[dict] = [{"id": 1, "name": "总公司", "parentid": 0, "order": 1}]
        self.users: list[dict] = []
        self.rooms: dict[str, dict] = {}
        self.calls = 0
        self.log: list[tuple[str, Any]] = []

    def _answer(self, call: str, arg: Any, body: dict) -> dict:
        self.calls += 1
        self.log.append((call, arg))
        fault = self.faults.pop(self.calls, None)
        if fault is Killed:
            raise Killed(f"killed at call {self.calls}")
        return raise_for(copy.deepcopy(fault if fault is not None else body), call)

    def groupchat_list(self, *, cursor: str = "", limit: int = 1000, status_filter: int = 0) -> dict:
        ids = sorted(c for c in self.chats if not status_filter or self.status.get(c, 0) == status_filter)
        start = int(cursor or 0)
        page = ids[start : start + limit]
        more = start + limit < len(ids)
        body = {
            "errcode": 0,
            "errmsg": "ok",
            "group_chat_list": [{"chat_id": c, "status": self.status.get(c, 0)} for c in page],
            "next_cursor": str(start + limit) if more else "",
        }
        return self._answer("groupchat/list", cursor, body)

    def groupchat_get(self, chat_id: str) -> dict:
        if chat_id in self.failing:
            body = {"errcode": self.failing[chat_id], "errmsg": "chat not exist or not permitted"}
        else:
            body = {"errcode": 0, "errmsg": "ok", "group_chat": self.chats[chat_id]}
        return self._answer("groupchat/get", chat_id, body)

    def department_list(self) -> dict:
        return self._answer("department/list", None, {"errcode": 0, "errmsg": "ok", "department": self.departments})

    def user_list(self, department_id: int) -> dict:
        return self._answer("user/list", department_id, {"errcode": 0, "errmsg": "ok", "userlist": self.users})

    def msgaudit_groupchat_get(self, roomid: str) -> dict:
        body = self.rooms.get(roomid) or {"errcode": 301052, "errmsg": "room not exist"}
        return self._answer("msgaudit/groupchat/get", roomid, {"errcode": 0, "errmsg": "ok", **body})

    def count(self, call: str) -> int:
        return sum(1 for name, _arg in self.log if name == call)


def many_chats(n: int, per_group: int = 5, *, prefix: str = "wrchat") -> dict[str, dict]:
    """``n`` customer groups of ``per_group`` members (one employee-like userid, the rest customers)."""
    chats = {}
    for i in range(n):
        chat_id = f"{prefix}{i:06d}"
        members = [member(f"staff{i % 7}", nickname=f"客服{i % 7}")]
        members += [member(f"wmcust{i:06d}_{j}", name=f"顾客{j}", external=True) for j in range(per_group - 1)]
        chats[chat_id] = group_chat(chat_id, members, owner=f"staff{i % 7}")
    return chats
