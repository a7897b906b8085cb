"""A local WeCom server API (通讯录, 客户联系, 会话存档) answering as the documented API does.

Field names and shapes are those of the official documentation (docs/wecom.md "Server API" names
the doc paths); the data is generated from a seed, the same on every start:

- departments (``department/list``), members (``user/list_id`` with cursor, ``user/list``,
  ``user/get``); a few members are disabled (status 2); members who left the company are gone from
  the contacts, as on WeCom, but still own their customer groups;
- ``groups`` customer groups (``externalcontact/groupchat/list`` with cursor, limit 1–1000,
  status_filter, owner_filter; ``groupchat/get`` with member_list, admin_list, member_version):
  about ``departed_share`` of them owned by someone who left (status 1 离职待继承); every internal
  member (type 1) is a member of ``user/list``; some group nicknames are empty, some break the
  部门-姓名 convention;
- ``groupchat/transfer``: 1–100 ids a call, 300 transferred chats a day, the new owner an active
  member with customer-contact rights; per chat ``failed_chat_list`` (90500 owner not resigned,
  90501 not a customer group, 40050 no such chat, and whatever ``transfer_failures`` says);
- internal rooms for ``msgaudit/groupchat/get``.

Each secret opens its own app: a token of the contacts secret gets 48002 on externalcontact/*.
Tokens expire after ``token_ttl`` seconds (42001), unknown ones get 40014; within its validity
gettoken answers the same token again, as WeCom does. ``rate_per_minute``
limits each (app, path) per minute (45009). Faults for resume tests: ``fail_calls`` (path → set of
call numbers answered ``-1 system busy``), ``down`` (HTTP 503 for everything), ``http_status``
(the next answers' HTTP status, e.g. 429), ``delay`` (seconds before each answer).

Group details are generated from (seed, index, version) when asked, never stored: 10,000 groups ×
100 members cost no memory. Standalone (benches, scripts/prodlike.sh)::

    python -m portal.tests.wecom_api_server --port 8931 --groups 10000 --members-per-group 100

prints the base URL and the test secrets; ``POST /_control`` with ``{"touch": [chat_id…]}`` (a
member leaves, member_version changes), ``{"down": true}``, ``{"expire_tokens": true}``,
``{"rate_per_minute": N}`` changes the running server.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import signal
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CORP_ID = "ww0123456789abcdef"
SECRETS = {
    "contacts": "contacts-secret-for-tests",  # 通讯录同步
    "customer": "customer-secret-for-tests",  # 客户联系
    "archive": "archive-secret-for-tests",  # 会话内容存档
    "app": "app-secret-for-tests",  # the self-built application (messages)
}
APP_PATHS = {
    "contacts": ("department/", "user/"),
    "customer": ("externalcontact/",),
    "archive": ("msgaudit/",),
    "app": ("message/", "department/", "user/"),  # an app may read the contacts in its visible range
}
TRANSFER_DAILY_LIMIT = 300
# WeCom documents the 300-a-day limit but none of our samples shows the errcode it answers past it:
# this server's stand-in, per chat. The portal counts its own transfers and stops before the limit.
DAILY_LIMIT_ERRCODE = 90503
DEPARTMENTS = ["总公司", "销售部", "客服部", "市场部", "技术部", "财务部", "人力资源部", "行政部", "华东区", "华南区"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏建国志文辉力永健世广海山仁波宁贵福生龙元全"


def _rng(*parts) -> random.Random:
    return random.Random(":".join(str(p) for p in parts))


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _chat_id(seed, kind: str, index: int) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(f"{seed}:{kind}:{index}".encode()).digest()).decode()
    return "wr" + digest[:24].replace("-", "x").replace("_", "y") + "AAAA"


@dataclass
class World:
    """The generated company: what the API answers, and what the calls changed."""

    seed: int = 17
    groups: int = 50
    members_per_group: int = 20
    users: int = 0  # 0: one per two groups, at least 60
    departed_share: float = 0.05
    internal_share: float = 0.3
    rooms: int = 0  # internal rooms of the archive; 0: one per ten groups, at least 3
    owners_override: dict = field(default_factory=dict)  # group index → new owner (transferred)
    versions: dict = field(default_factory=dict)  # group index → how many times it was touched

    def __post_init__(self) -> None:
        rng = _rng(self.seed, "org")
        self.users = self.users or max(60, self.groups // 2)
        self.rooms = self.rooms or max(3, self.groups // 10)
        self.departments = [
            {"id": i + 1, "name": n, "name_en": "", "department_leader": [], "parentid": 0 if i == 0 else 1, "order": i}
            for i, n in enumerate(DEPARTMENTS)
        ]
        self.user_rows = []
        for n in range(self.users):
            dept = 1 + rng.randrange(1, len(DEPARTMENTS))
            self.user_rows.append(
                {
                    "userid": f"user{n:05d}",
                    "name": _name(rng),
                    "department": [dept],
                    "main_department": dept,
                    "position": "",
                    "status": 2 if rng.random() < 0.02 else 1,  # 1 已激活, 2 已禁用 (4 未激活, 5 退出企业)
                }
            )
        self.by_userid = {u["userid"]: u for u in self.user_rows}
        # 客户联系 rights (configured in the admin console; no API lists them): most members have them.
        self.customer_rights = {u["userid"] for u in self.user_rows if rng.random() < 0.8}
        self.active = [u["userid"] for u in self.user_rows if u["status"] == 1]
        self.owners = sorted(self.customer_rights & set(self.active))
        self.departed = [f"left{n:04d}" for n in range(max(3, self.users // 30))]  # no longer in the contacts
        self.chat_ids = [_chat_id(self.seed, "g", i) for i in range(self.groups)]
        self.index = {c: i for i, c in enumerate(self.chat_ids)}
        self.room_ids = [_chat_id(self.seed, "r", i) for i in range(self.rooms)]
        self.transferred_on: dict[str, int] = {}  # day → chats transferred that day

    # -- customer groups ---------------------------------------------------------------------------

    def original_owner(self, i: int) -> str:
        rng = _rng(self.seed, "owner", i)
        if rng.random() < self.departed_share:
            return rng.choice(self.departed)
        return rng.choice(self.owners)

    def owner(self, i: int) -> str:
        return self.owners_override.get(i) or self.original_owner(i)

    def status(self, i: int) -> int:
        """0 跟进人正常, 1 离职待继承, 2 离职继承中 (3 离职继承完成)."""
        if i in self.owners_override:
            return 2
        return 1 if self.original_owner(i) in self.departed else 0

    def group_chat(self, i: int, *, need_name: bool) -> dict:
        rng = _rng(self.seed, "group", i)
        owner, version = self.owner(i), self.versions.get(i, 0)
        created = 1_700_000_000 + rng.randrange(0, 40_000_000)
        internal_count = max(1, round(self.members_per_group * self.internal_share))
        staff = rng.sample(self.active, min(len(self.active), internal_count))
        if owner not in self.departed:  # someone who left the company is in no group any more
            staff = [owner, *[u for u in staff if u != owner][: internal_count - 1]]
        members = []
        for userid in staff:
            person = self.by_userid[userid]
            dept = DEPARTMENTS[person["main_department"] - 1]
            roll = rng.random()
            nickname = "" if roll < 0.2 else person["name"] if roll < 0.3 else f"{dept}-{person['name']}"
            members.append(self._member(rng, userid, 1, created, owner, nickname, person["name"], need_name))
        for n in range(self.members_per_group - len(members)):
            userid = "wm" + hashlib.sha256(f"{self.seed}:ext:{i}:{n}".encode()).hexdigest()[:26]
            name = _name(rng)
            nickname = "" if rng.random() < 0.5 else f"顾客{name}"
            member = self._member(rng, userid, 2, created, owner, nickname, name, need_name)
            member["unionid"] = "oz" + hashlib.sha256(userid.encode()).hexdigest()[:26]
            members.append(member)
        if version:  # each touch: one more (external, else last) member has left
            members = members[: max(1, len(members) - version)]
        admins = [{"userid": u} for u in staff[1:3] if rng.random() < 0.5]
        chat = {
            "chat_id": self.chat_ids[i],
            "name": f"{rng.choice(DEPARTMENTS[1:])}客户服务群{i}",
            "owner": owner,
            "create_time": created,
            "notice": "文明沟通,拒绝广告" if rng.random() < 0.3 else "",
            "member_list": members,
            "admin_list": admins,
            "member_version": hashlib.md5(f"{self.seed}:{i}:{version}:{owner}".encode()).hexdigest(),  # noqa: S324
        }
        return chat

    @staticmethod
    def _member(rng, userid, kind, created, owner, nickname, name, need_name) -> dict:
        scene = rng.choice((1, 2, 3))  # 1 直接邀请, 2 邀请链接, 3 扫描群二维码
        member = {"userid": userid, "type": kind, "join_time": created + rng.randrange(1, 2_000_000)}
        member["join_scene"] = scene
        if scene in (1, 2) and userid != owner:
            member["invitor"] = {"userid": owner}
        member["group_nickname"] = nickname
        if need_name:
            member["name"] = name
        return member

    def touch(self, chat_id: str) -> None:
        i = self.index[chat_id]
        self.versions[i] = self.versions.get(i, 0) + 1

    # -- internal rooms (会话存档) ---------------------------------------------------------------------

    def room(self, r: int) -> dict:
        rng = _rng(self.seed, "room", r)
        created = 1_650_000_000 + rng.randrange(0, 50_000_000)
        people = rng.sample(self.active, min(len(self.active), 3 + rng.randrange(10)))
        return {
            "roomname": f"{rng.choice(DEPARTMENTS[1:])}工作群{r}",
            "creator": people[0],
            "room_create_time": created,
            "notice": "",
            "members": [{"memberid": u, "jointime": created + rng.randrange(0, 100_000)} for u in people],
        }


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("o:")) if text.startswith("o:") else None
    except ValueError:
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a bench's requests.Session reuses the connection

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm meets the
        # client's delayed ACK and every keep-alive answer waits ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def _send(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        server: WeComAPIServer = self.server  # type: ignore[assignment]
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return self._send({"errcode": 47001, "errmsg": "data format error"})
        if url.path == "/_control":
            return self._send(server.control(body))
        path = url.path.removeprefix("/cgi-bin/")
        status, answer = server.answer(path, query, body if isinstance(body, dict) else {})
        self._send(answer, status)

    do_GET = do_POST = _handle


class WeComAPIServer(ThreadingHTTPServer):
    """The server; ``world`` holds the data, ``requests`` each call as ``(path, query, body)``."""

    daemon_threads = True

    def __init__(self, address=("127.0.0.1", 0), *, world: World | None = None, token_ttl: int = 7200):
        super().__init__(address, Handler)
        self.world = world or World()
        self.token_ttl = token_ttl
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (app, expires at)
        self.requests: list[tuple[str, dict, dict]] = []
        self.record = True  # benches turn it off
        self.rate_per_minute = 0  # 0: no limit
        self.window: dict[tuple[str, str, int], int] = {}
        self.fail_calls: dict[str, set[int]] = {}
        self.counts: dict[str, int] = {}
        self.down = False
        self.transfer_failures: dict[str, tuple[int, str]] = {}
        self.delivered: list[dict] = []  # message/send bodies
        self.http_status: list[int] = []
        self.delay = 0.0  # seconds before answering (not gettoken)
        self.lock = threading.Lock()
        self.issued = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/cgi-bin"

    def calls(self, path: str) -> list:
        return [r for r in self.requests if r[0] == path]

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: (app, 0.0) for t, (app, _at) in self.tokens.items()}

    def control(self, body: dict) -> dict:
        for chat_id in body.get("touch", []):
            self.world.touch(chat_id)
        if "down" in body:
            self.down = bool(body["down"])
        if body.get("expire_tokens"):
            self.expire_tokens()
        if "rate_per_minute" in body:
            self.rate_per_minute = int(body["rate_per_minute"])
        return {"errcode": 0, "errmsg": "ok"}

    # -- dispatch ----------------------------------------------------------------------------------

    def answer(self, path: str, query: dict, body: dict) -> tuple[int, dict]:
        with self.lock:
            if self.record:
                self.requests.append((path, query, body))
            if self.down:
                return 503, {"errcode": -1, "errmsg": "service unavailable"}
            if self.http_status:  # scripted HTTP answers (429 from a gateway, 502 …), one per call
                return self.http_status.pop(0), {"errcode": -1, "errmsg": "scripted"}
            delay = self.delay
            self.counts[path] = self.counts.get(path, 0) + 1
            if self.counts[path] in self.fail_calls.get(path, ()):
                return 200, {"errcode": -1, "errmsg": "system busy"}
        if delay and path != "gettoken":
            time.sleep(delay)  # a slow answer: the client's timeout fires first
        if path == "gettoken":
            return 200, self._gettoken(query)
        token = query.get("access_token", "")
        app, expires_at = self.tokens.get(token, ("", 0.0))
        if not app:
            return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
        if expires_at <= time.time():
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        if not path.startswith(APP_PATHS[app]):
            return 200, {"errcode": 48002, "errmsg": "api forbidden"}
        if self._limited(app, path):
            return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
        route = ROUTES.get(path)
        if route is None:
            return 404, {"errcode": 404, "errmsg": "not found"}
        return 200, route(self, query, body)

    def _limited(self, app: str, path: str) -> bool:
        if not self.rate_per_minute:
            return False
        key = (app, path, int(time.time() // 60))
        with self.lock:
            self.window[key] = self.window.get(key, 0) + 1
            return self.window[key] > self.rate_per_minute

    def _gettoken(self, query: dict) -> dict:
        if query.get("corpid") != CORP_ID:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        app = next((a for a, s in SECRETS.items() if s == query.get("corpsecret")), None)
        if app is None:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        now = time.time()
        with self.lock:
            # As WeCom: within its validity a repeated gettoken answers the same token (and what is left).
            live = [(t, at) for t, (a, at) in self.tokens.items() if a == app and at > now]
            if live:
                token, expires_at = live[-1]
                return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": int(expires_at - now)}
            self.issued += 1
            token = f"TOKEN_{app}_{self.issued}_" + hashlib.sha256(f"{self.issued}".encode()).hexdigest()[:12]
            self.tokens[token] = (app, now + self.token_ttl)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_ttl}

    # -- 通讯录 ------------------------------------------------------------------------------------------

    def department_list(self, query: dict, body: dict) -> dict:
        wanted = query.get("id")
        rows = self.world.departments
        if wanted:
            rows = [d for d in rows if str(d["id"]) == wanted or (wanted == "1")]
            if not rows:
                return {"errcode": 60123, "errmsg": "invalid party id"}
        return {"errcode": 0, "errmsg": "ok", "department": rows}

    def user_list_id(self, query: dict, body: dict) -> dict:
        limit = int(body.get("limit") or 10000)
        if not 1 <= limit <= 10000:
            return {"errcode": 40058, "errmsg": "invalid limit"}
        start = _offset(body["cursor"]) if body.get("cursor") else 0
        if start is None:
            return {"errcode": 40058, "errmsg": "invalid cursor"}
        pairs = [{"userid": u["userid"], "department": d} for u in self.world.user_rows for d in u["department"]]
        page = pairs[start : start + limit]
        answer = {"errcode": 0, "errmsg": "ok", "dept_user": page}
        answer["next_cursor"] = _cursor(start + limit) if start + limit < len(pairs) else ""
        return answer

    def user_list(self, query: dict, body: dict) -> dict:
        try:
            dept = int(query.get("department_id", ""))
        except ValueError:
            return {"errcode": 60123, "errmsg": "invalid party id"}
        child = query.get("fetch_child") == "1"
        rows = [u for u in self.world.user_rows if dept in u["department"] or (child and dept == 1)]
        return {"errcode": 0, "errmsg": "ok", "userlist": rows}

    def user_get(self, query: dict, body: dict) -> dict:
        user = self.world.by_userid.get(query.get("userid", ""))
        if user is None:
            return {"errcode": 60111, "errmsg": "userid not found"}
        return {"errcode": 0, "errmsg": "ok", **user}

    # -- 客户联系 ------------------------------------------------------------------------------------------

    def groupchat_list(self, query: dict, body: dict) -> dict:
        world = self.world
        limit = body.get("limit", 0)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return {"errcode": 40058, "errmsg": "invalid limit, should be in [1, 1000]"}
        status_filter = body.get("status_filter", 0)
        owners = set((body.get("owner_filter") or {}).get("userid_list") or [])
        start = _offset(body["cursor"]) if body.get("cursor") else 0
        if start is None:
            return {"errcode": 40058, "errmsg": "invalid cursor"}
        page, i = [], start
        while i < world.groups and len(page) < limit:
            if (not status_filter or world.status(i) == status_filter) and (not owners or world.owner(i) in owners):
                page.append({"chat_id": world.chat_ids[i], "status": world.status(i)})
            i += 1
        cursor = _cursor(i) if i < world.groups else ""
        return {"errcode": 0, "errmsg": "ok", "group_chat_list": page, "next_cursor": cursor}

    def groupchat_get(self, query: dict, body: dict) -> dict:
        i = self.world.index.get(body.get("chat_id", ""))
        if i is None:
            return {"errcode": 40050, "errmsg": "chatid not found"}
        chat = self.world.group_chat(i, need_name=body.get("need_name") == 1)
        return {"errcode": 0, "errmsg": "ok", "group_chat": chat}

    def groupchat_transfer(self, query: dict, body: dict) -> dict:
        world = self.world
        ids, new_owner = body.get("chat_id_list"), body.get("new_owner", "")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return {"errcode": 40058, "errmsg": "chat_id_list size should be in [1, 100]"}
        user = world.by_userid.get(new_owner)
        if user is None or user["status"] != 1:
            return {"errcode": 60111, "errmsg": "userid not found"}
        if new_owner not in world.customer_rights:
            return {"errcode": 84074, "errmsg": "no external contact permission"}
        failed = []
        day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))  # WeCom's day: Beijing time
        with self.lock:
            for chat_id in ids:
                i = world.index.get(chat_id)
                scripted = self.transfer_failures.get(chat_id)
                if scripted:
                    failed.append({"chat_id": chat_id, "errcode": scripted[0], "errmsg": scripted[1]})
                elif chat_id in world.room_ids:
                    failed.append({"chat_id": chat_id, "errcode": 90501, "errmsg": "chat is not external group chat"})
                elif i is None:
                    failed.append({"chat_id": chat_id, "errcode": 40050, "errmsg": "chatid not found"})
                elif world.status(i) != 1:
                    errmsg = "the owner of this chat is not resigned"
                    failed.append({"chat_id": chat_id, "errcode": 90500, "errmsg": errmsg})
                elif world.transferred_on.get(day, 0) >= TRANSFER_DAILY_LIMIT:
                    failed.append({"chat_id": chat_id, "errcode": DAILY_LIMIT_ERRCODE, "errmsg": "exceed daily limit"})
                else:
                    world.owners_override[i] = new_owner
                    world.transferred_on[day] = world.transferred_on.get(day, 0) + 1
        return {"errcode": 0, "errmsg": "ok", "failed_chat_list": failed}

    # -- 会话存档 ------------------------------------------------------------------------------------------

    def msgaudit_groupchat_get(self, query: dict, body: dict) -> dict:
        roomid = body.get("roomid", "")
        if roomid not in self.world.room_ids:
            return {"errcode": 40050, "errmsg": "roomid not found"}
        return {**self.world.room(self.world.room_ids.index(roomid)), "errcode": 0, "errmsg": "ok"}


def _message_send(server: WeComAPIServer, query: dict, body: dict) -> dict:
    """``message/send`` for the app secret: every listed userid of the contacts gets it."""
    users = [u for u in str(body.get("touser", "")).split("|") if u]
    invalid = [u for u in users if u not in server.world.by_userid]
    if users and len(invalid) == len(users):
        return {"errcode": 81013, "errmsg": "user & party & tag all invalid", "invaliduser": "|".join(invalid)}
    server.delivered.append(body)
    return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "msgid": f"msgid_{len(server.delivered)}"}


ROUTES = {
    "message/send": _message_send,
    "department/list": WeComAPIServer.department_list,
    "user/list_id": WeComAPIServer.user_list_id,
    "user/list": WeComAPIServer.user_list,
    "user/get": WeComAPIServer.user_get,
    "externalcontact/groupchat/list": WeComAPIServer.groupchat_list,
    "externalcontact/groupchat/get": WeComAPIServer.groupchat_get,
    "externalcontact/groupchat/transfer": WeComAPIServer.groupchat_transfer,
    "msgaudit/groupchat/get": WeComAPIServer.msgaudit_groupchat_get,
}


def start(world: World | None = None, *, port: int = 0, token_ttl: int = 7200) -> WeComAPIServer:
    """A running server on 127.0.0.1 (a free port unless given), serving in a daemon thread."""
    server = WeComAPIServer(("127.0.0.1", port), world=world, token_ttl=token_ttl)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


try:  # the fixture for the test suite; the standalone server needs no pytest
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def wecom_api_server():
        """A fresh server (50 groups × 20 members, seed 17); shut down after the test."""
        server = start()
        yield server
        server.shutdown()
        server.server_close()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="A local WeCom server API for benches and prodlike runs.")
    parser.add_argument("--port", type=int, default=8931)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--members-per-group", type=int, default=50)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--token-ttl", type=int, default=7200)
    parser.add_argument("--rate-per-minute", type=int, default=0, help="per app and path; 0: no limit")
    args = parser.parse_args(argv)
    world = World(seed=args.seed, groups=args.groups, members_per_group=args.members_per_group)
    server = WeComAPIServer(("127.0.0.1", args.port), world=world, token_ttl=args.token_ttl)
    server.record = False
    server.rate_per_minute = args.rate_per_minute
    print(f"WeCom API on {server.base_url}  corp id {CORP_ID}", flush=True)
    for app, secret in SECRETS.items():
        print(f"  {app} secret: {secret}", flush=True)
    # SIGTERM (scripts/prodlike.sh stopping its services) ends it cleanly, with status 0.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
