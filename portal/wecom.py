"""WeCom: application messages (企业微信应用消息, a text card to one member by their WeCom userid), and
below them the server API client (``WeComClient``: contacts, customer groups, transfer, chat archive).

The API is described in ``docs/wecom.md``. Two calls:

- ``GET {WECOM_API_BASE}/gettoken?corpid=…&corpsecret=…`` → ``access_token`` valid ``expires_in`` seconds
  (7200). The token is kept in the Django cache (Redis, shared by every worker) until
  ``expires_in - WECOM_TOKEN_MARGIN_SECONDS``; WeCom limits how often a token may be fetched.
- ``POST {WECOM_API_BASE}/message/send?access_token=…`` with ``msgtype: textcard``.

Errors are sorted for the delivery task (``portal.notifications.deliver``):

- 42001 (token expired) / 40014 (token invalid): the cached token is dropped, a new one fetched and
  the message sent once more (refused again: ``DeliveryError``, retried later);
- 45009 / 45033 (frequency / concurrency limit), -1 (system busy), network errors and HTTP errors:
  ``DeliveryError``, so the task retries with backoff;
- any other errcode, and a 2xx answer naming the user in ``invaliduser`` (not in the application's
  visible range, or no such userid): ``DeliveryRejected``, recorded as failed with WeCom's errmsg —
  trying again would only fail again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html import escape

import requests
from django.conf import settings
from django.core.cache import cache

from .notifications import DeliveryError, DeliveryRejected

logger = logging.getLogger(__name__)

TIMEOUT = 5  # seconds per call: a slow API must not hold a worker
TOKEN_EXPIRED = {42001, 40014}  # access_token expired / invalid
RATE_LIMITED = {45009, 45033, -1}  # api freq out of limit, api concurrent out of limit, system busy
TITLE_BYTES = 128  # textcard limits (bytes, UTF-8)
DESCRIPTION_BYTES = 512
DEFAULT_BUTTON = "详情"


@dataclass(frozen=True)
class _AppSettings:
    corp_id: str
    agent_id: str
    secret: str = field(repr=False)
    api_base: str


def _app() -> _AppSettings | None:
    """The application's credentials: the WECOM_* settings when all three are set, else the WeCom
    connection's (enabled, with corp id, AgentId and the app secret) entered by HR in the admin."""
    if settings.WECOM_CORP_ID and settings.WECOM_AGENT_ID and settings.WECOM_APP_SECRET:
        return _AppSettings(
            settings.WECOM_CORP_ID, settings.WECOM_AGENT_ID, settings.WECOM_APP_SECRET, settings.WECOM_API_BASE
        )
    from django.db import DatabaseError

    from .models import WeComConnection
    from .secrets import SecretUnreadable

    try:
        row = WeComConnection.objects.filter(singleton=True).first()
        if row is None or not (row.enabled and row.corp_id and row.agent_id and row.has_secret("app")):
            return None
        return _AppSettings(row.corp_id, row.agent_id, row.secret("app"), row.base_url.rstrip("/"))
    except (DatabaseError, SecretUnreadable):
        logger.warning("WeCom connection unreadable: application messages off")
        return None


def configured() -> bool:
    return _app() is not None


def _token_cache_key(app: _AppSettings) -> str:
    return f"wecom:token:{app.corp_id}:{app.agent_id}"


def _call(url: str, payload: dict | None = None) -> dict:
    if not url.startswith(("https://", "http://")):
        raise DeliveryRejected(f"WECOM_API_BASE must be http(s): {url!r}")
    data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    request = urllib.request.Request(  # noqa: S310  scheme checked above
        url,
        data=data,
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="GET" if payload is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            answer = response.read(65536)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:  # HTTPError (5xx) is a URLError
        raise DeliveryError(f"WeCom API: {exc}") from exc
    try:
        body = json.loads(answer)
    except ValueError as exc:
        raise DeliveryError(f"WeCom API answered no JSON: {answer[:200]!r}") from exc
    if not isinstance(body, dict):
        raise DeliveryError(f"WeCom API answered no object: {answer[:200]!r}")
    return body


def _raise_for(body: dict, what: str) -> None:
    errcode = body.get("errcode", 0)
    if not errcode:
        return
    message = f"WeCom {what} errcode {errcode}: {body.get('errmsg', '')}"[:1000]
    if errcode in RATE_LIMITED or errcode in TOKEN_EXPIRED:  # a token refused right after a refresh: later
        raise DeliveryError(message)
    raise DeliveryRejected(message)


def access_token(*, refresh: bool = False) -> str:
    """The application's access token, from the cache unless ``refresh`` (or absent/expired there)."""
    app = _app()
    if app is None:
        raise DeliveryRejected("WeCom application not configured")
    key = _token_cache_key(app)
    if not refresh:
        token = cache.get(key)
        if token:
            return token
    query = urllib.parse.urlencode({"corpid": app.corp_id, "corpsecret": app.secret})
    body = _call(f"{app.api_base}/gettoken?{query}")
    _raise_for(body, "gettoken")
    token = body.get("access_token")
    if not token:
        raise DeliveryError("WeCom gettoken answered no access_token")
    lifetime = int(body.get("expires_in") or 7200) - settings.WECOM_TOKEN_MARGIN_SECONDS
    if lifetime > 0:
        cache.set(key, token, timeout=lifetime)
    return token


def _clip(text: str, limit: int) -> str:
    raw = text.encode()
    if len(raw) <= limit:
        return text
    return raw[: limit - len("…".encode())].decode(errors="ignore") + "…"


def textcard(userid: str, title: str, body: str, url: str, *, agent_id: str | None = None) -> dict:
    """The ``message/send`` payload: the body's lines as the card's description (escaped, clipped)."""
    description = _clip(escape(body, quote=False), DESCRIPTION_BYTES)
    return {
        "touser": userid,
        "msgtype": "textcard",
        "agentid": int(agent_id or settings.WECOM_AGENT_ID),
        "textcard": {
            "title": _clip(title, TITLE_BYTES),
            "description": description,
            "url": url,
            "btntxt": DEFAULT_BUTTON,
        },
        # WeCom drops an identical message to the same user within the interval: a worker killed after
        # the POST but before the row was marked sent does not send it twice on redelivery.
        "enable_duplicate_check": 1,
        "duplicate_check_interval": 1800,
    }


def send_textcard(userid: str, title: str, body: str, url: str) -> str:
    """Send one text card; returns WeCom's msgid. Raises DeliveryError (retry) or DeliveryRejected."""
    app = _app()
    if app is None:
        raise DeliveryRejected(
            "WeCom application not configured (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_APP_SECRET or the WeCom connection)"
        )
    if not userid:
        raise DeliveryRejected("no WeCom userid")
    if not str(app.agent_id).isdigit():
        raise DeliveryRejected(f"WECOM_AGENT_ID must be the application's number, not {app.agent_id!r}")
    payload = textcard(userid, title, body, url, agent_id=app.agent_id)
    token = access_token()
    answer = _call(f"{app.api_base}/message/send?access_token={urllib.parse.quote(token)}", payload)
    if answer.get("errcode") in TOKEN_EXPIRED:
        logger.info("WeCom token refused (errcode %s): fetching a new one", answer.get("errcode"))
        cache.delete(_token_cache_key(app))
        token = access_token(refresh=True)
        answer = _call(f"{app.api_base}/message/send?access_token={urllib.parse.quote(token)}", payload)
    _raise_for(answer, "message/send")
    refused = {u for field in ("invaliduser", "unlicenseduser") for u in str(answer.get(field) or "").split("|")}
    if userid in refused:
        raise DeliveryRejected(
            f"WeCom message/send: user {userid!r} invalid or outside the application's visible range"
            f" (invaliduser={answer.get('invaliduser', '')!r}, unlicenseduser={answer.get('unlicenseduser', '')!r})"
        )
    return str(answer.get("msgid", ""))


# --- The server API client (通讯录, 客户联系, 会话存档): issue #17 ----------------------------------------
#
# One ``WeComClient`` per (corp id, secret): WeCom issues a separate access token for each secret and
# each token only opens its own app's calls (a contacts token gets 48002 "api forbidden" on
# externalcontact/*). Built from the stored WeCom connection (``client_for``, below) or by hand.
# docs/wecom.md "Server API" says which call needs which secret and what each error becomes.

REDACTED = "***"
_SECRET_QUERY = re.compile(r"((?:access_token|corpsecret|secret)=)[^&\s'\"]+", re.IGNORECASE)
TOKEN_REFUSED = {40014, 42001, 40001}  # invalid / expired access_token, invalid credential (a rotated secret)
FREQUENCY_LIMITED = {45009, 45033}  # api freq out of limit, api concurrent out of limit
TRANSIENT = {-1}  # system busy


def redact(text: str) -> str:
    """``text`` with every ``access_token=…`` / ``corpsecret=…`` value replaced by ***."""
    return _SECRET_QUERY.sub(lambda m: m.group(1) + REDACTED, str(text))


class RedactingFilter(logging.Filter):
    """Masks tokens and secrets in URLs that urllib3 logs at DEBUG (``GET /cgi-bin/gettoken?corpsecret=…``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(record.msg) if isinstance(record.msg, str) else record.msg
        return True


logging.getLogger("urllib3.connectionpool").addFilter(RedactingFilter())


class WeComError(Exception):
    """WeCom answered ``errcode`` (non-zero) to ``path``; ``errmsg`` as WeCom wrote it (redacted)."""

    def __init__(self, errcode: int | None, errmsg: str, path: str):
        self.errcode, self.errmsg, self.path = errcode, redact(errmsg)[:500], path
        super().__init__(f"WeCom {path}: errcode {errcode}: {self.errmsg}")


class WeComRateLimited(WeComError):
    """Still frequency-limited (45009 / 45033 / HTTP 429) after the bounded back-off: resume later."""


class WeComUnavailable(WeComError):
    """No usable answer (network error, timeout, HTTP 5xx, not JSON, -1 busy) after the retries;
    ``errcode`` is None unless WeCom sent one. Safe to try again later."""


@dataclass(frozen=True)
class WeComCredentials:
    """A corp id and one app's secret. ``repr`` never shows the secret."""

    corp_id: str
    secret: str = field(repr=False)
    base_url: str = "https://qyapi.weixin.qq.com/cgi-bin"
    app: str = "app"  # contacts / customer / archive / app: names the cached token

    def cache_key(self) -> str:
        # A digest of the secret, not the secret: a rotated secret gets a fresh token at once.
        digest = hashlib.sha256(f"{self.corp_id}\0{self.secret}".encode()).hexdigest()[:16]
        return f"wecom:api-token:{self.app}:{digest}"


@dataclass
class WeComClient:
    """Calls of the WeCom server API with one app's credentials.

    The ``access_token`` lives in the Django cache (Redis in production: every worker shares it)
    until ``expires_in - WECOM_TOKEN_MARGIN_SECONDS``; a call refused with 40014 / 42001 / 40001
    drops it, fetches a new one and is sent once more. 45009 / 45033 / HTTP 429 back off with
    jitter (``backoff * 2**n``, capped) up to ``rate_retries`` times, then ``WeComRateLimited``.
    Network errors, timeouts, HTTP 5xx and -1 are retried ``retries`` times (only for calls safe to
    repeat), then ``WeComUnavailable``. Any other errcode: ``WeComError``. Tokens and secrets never
    reach a log line or an exception (``redact``).
    """

    credentials: WeComCredentials
    timeout: float = field(default_factory=lambda: float(settings.WECOM_HTTP_TIMEOUT))
    retries: int = field(default_factory=lambda: int(settings.WECOM_HTTP_RETRIES))
    rate_retries: int = field(default_factory=lambda: int(settings.WECOM_RATE_LIMIT_RETRIES))
    backoff: float = field(default_factory=lambda: float(settings.WECOM_BACKOFF_SECONDS))
    backoff_cap: float = field(default_factory=lambda: float(settings.WECOM_BACKOFF_CAP_SECONDS))
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    calls: int = 0  # HTTP requests sent (gettoken included): for benches and tests

    # -- plumbing ----------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        base = self.credentials.base_url.rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise WeComError(None, f"base URL must be http(s): {base!r}", path)
        return f"{base}/{path}"

    def _pause(self, attempt: int) -> None:
        delay = min(self.backoff_cap, self.backoff * (2**attempt))
        self.sleep(delay * random.uniform(0.5, 1.0))

    def _send(self, method: str, path: str, params: dict, body: dict | None, *, repeatable: bool) -> dict:
        """One answer as a dict, after the network / busy / rate-limit retries."""
        busy = limited = 0
        while True:
            self.calls += 1
            try:
                response = self.session.request(
                    method,
                    self._url(path),
                    params=params,
                    data=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                # A request that may have reached WeCom (read timeout, reset) is sent again only when
                # repeating it is harmless; one that never left (refused, connect timeout) always.
                never_sent = isinstance(exc, requests.ConnectTimeout) or "NewConnectionError" in repr(exc)
                if busy < self.retries and (repeatable or never_sent):
                    busy += 1
                    logger.info("WeCom %s: %s; retry %s", path, type(exc).__name__, busy)
                    self._pause(busy)
                    continue
                raise WeComUnavailable(None, f"{type(exc).__name__}: {redact(exc)}", path) from None
            if response.status_code == 429:
                answer: dict = {"errcode": 45009, "errmsg": "HTTP 429"}
            elif response.status_code >= 500:
                answer = {"errcode": None, "errmsg": f"HTTP {response.status_code}"}
            else:
                try:
                    answer = response.json()
                except ValueError:
                    if response.status_code >= 400:  # a wrong base URL or a proxy's page: not transient
                        raise WeComError(response.status_code, f"HTTP {response.status_code}, not JSON", path) from None
                    answer = {"errcode": None, "errmsg": f"not JSON (HTTP {response.status_code})"}
                if not isinstance(answer, dict):
                    answer = {"errcode": None, "errmsg": "not a JSON object"}
            errcode = answer.get("errcode", 0)
            if errcode in FREQUENCY_LIMITED:
                if limited < self.rate_retries:
                    limited += 1
                    logger.warning("WeCom %s: frequency limit (errcode %s); back-off %s", path, errcode, limited)
                    self._pause(limited)
                    continue
                raise WeComRateLimited(errcode, str(answer.get("errmsg", "")), path)
            if errcode is None or errcode in TRANSIENT:
                if busy < self.retries and repeatable:
                    busy += 1
                    logger.info("WeCom %s: %s; retry %s", path, answer.get("errmsg"), busy)
                    self._pause(busy)
                    continue
                raise WeComUnavailable(errcode, str(answer.get("errmsg", "")), path)
            return answer

    def access_token(self, *, refresh: bool = False) -> str:
        """This app's token: from the cache unless ``refresh`` (or missing there), else ``gettoken``."""
        key = self.credentials.cache_key()
        if not refresh:
            token = cache.get(key)
            if token:
                return token
        query = {"corpid": self.credentials.corp_id, "corpsecret": self.credentials.secret}
        answer = self._send("GET", "gettoken", query, None, repeatable=True)
        if answer.get("errcode"):
            raise WeComError(answer["errcode"], str(answer.get("errmsg", "")), "gettoken")
        token = answer.get("access_token")
        if not token:
            raise WeComUnavailable(None, "gettoken answered no access_token", "gettoken")
        lifetime = int(answer.get("expires_in") or 7200) - settings.WECOM_TOKEN_MARGIN_SECONDS
        if lifetime > 0:
            cache.set(key, token, timeout=lifetime)
        else:
            cache.delete(key)
        return token

    def call(self, path: str, body: dict | None = None, *, query: dict | None = None, repeatable: bool = True) -> dict:
        """``POST path`` (GET without ``body``) with the token; a refused token is renewed once."""
        method = "GET" if body is None else "POST"
        for attempt in (0, 1):
            params = {**(query or {}), "access_token": self.access_token(refresh=attempt == 1)}
            answer = self._send(method, path, params, body, repeatable=repeatable)
            errcode = answer.get("errcode", 0)
            if errcode in TOKEN_REFUSED and attempt == 0:
                logger.info("WeCom %s: token refused (errcode %s): fetching a new one", path, errcode)
                cache.delete(self.credentials.cache_key())
                continue
            if errcode:
                raise WeComError(errcode, str(answer.get("errmsg", "")), path)
            return answer
        raise AssertionError("unreachable")  # pragma: no cover

    # -- 通讯录 (contacts secret) ---------------------------------------------------------------------

    def department_list(self, department_id: int | None = None) -> list[dict]:
        """``department/list``: the department and all below it (the whole company without an id)."""
        query = {} if department_id is None else {"id": department_id}
        return self.call("department/list", query=query).get("department", [])

    def user_list_id(self, cursor: str = "", limit: int = 10000) -> dict:
        """``user/list_id``: one page of ``dept_user[{userid, department}]`` and ``next_cursor``."""
        body: dict = {"limit": limit}
        if cursor:
            body["cursor"] = cursor
        return self.call("user/list_id", body)

    def iter_user_ids(self, limit: int = 10000) -> Iterator[dict]:
        """Every ``{userid, department}`` of ``user/list_id``, page after page."""
        yield from _paged(lambda cursor: self.user_list_id(cursor, limit), "dept_user")

    def user_list(self, department_id: int, *, fetch_child: bool = False) -> list[dict]:
        """``user/list``: members of a department with ``userid, name, department, status`` …"""
        query = {"department_id": department_id, "fetch_child": int(fetch_child)}
        return self.call("user/list", query=query).get("userlist", [])

    def user_get(self, userid: str) -> dict:
        """``user/get``: one member."""
        return self.call("user/get", query={"userid": userid})

    # -- 客户联系 (customer-contact secret) -----------------------------------------------------------

    def groupchat_list(
        self, *, cursor: str = "", limit: int = 1000, status_filter: int = 0, owner_userids: Iterable[str] = ()
    ) -> dict:
        """``externalcontact/groupchat/list``: ``group_chat_list[{chat_id, status}]`` and ``next_cursor``."""
        if not 1 <= limit <= GROUPCHAT_LIST_LIMIT:
            raise ValueError(f"limit must be 1–{GROUPCHAT_LIST_LIMIT}, not {limit}")
        body: dict = {"status_filter": status_filter, "limit": limit}
        owners = list(owner_userids)
        if owners:
            body["owner_filter"] = {"userid_list": owners}
        if cursor:
            body["cursor"] = cursor
        return self.call("externalcontact/groupchat/list", body)

    def iter_groupchats(self, *, limit: int = 1000, status_filter: int = 0, owner_userids=(), cursor: str = ""):
        """Every ``{chat_id, status}``, page after page; yields ``(entry, cursor_of_its_page)`` so a
        caller can store the cursor and resume a killed run from that page."""
        owners = list(owner_userids)
        while True:
            page = self.groupchat_list(cursor=cursor, limit=limit, status_filter=status_filter, owner_userids=owners)
            for entry in page.get("group_chat_list", []):
                yield entry, cursor
            cursor = page.get("next_cursor") or ""
            if not cursor:
                return

    def groupchat_get(self, chat_id: str, *, need_name: bool = True) -> dict:
        """``externalcontact/groupchat/get``: the ``group_chat`` (owner, admin_list, member_list with
        names when ``need_name``, member_version)."""
        body = {"chat_id": chat_id, "need_name": int(need_name)}
        return self.call("externalcontact/groupchat/get", body).get("group_chat", {})

    def groupchat_transfer(self, chat_ids: Iterable[str], new_owner: str) -> list[dict]:
        """``externalcontact/groupchat/transfer`` (离职继承) of 1–100 chats to ``new_owner``; returns
        ``failed_chat_list[{chat_id, errcode, errmsg}]`` (the chats not listed were transferred).
        Not repeated after a timeout: WeCom may have done it."""
        ids = list(dict.fromkeys(chat_ids))
        if not 1 <= len(ids) <= TRANSFER_BATCH:
            raise ValueError(f"chat_id_list must hold 1–{TRANSFER_BATCH} ids, not {len(ids)}")
        body = {"chat_id_list": ids, "new_owner": new_owner}
        answer = self.call("externalcontact/groupchat/transfer", body, repeatable=False)
        return list(answer.get("failed_chat_list") or [])

    # -- 会话存档 (chat-archive secret) ---------------------------------------------------------------

    def msgaudit_groupchat_get(self, roomid: str) -> dict:
        """``msgaudit/groupchat/get``: an internal group seen by the archive (roomname, creator,
        room_create_time, notice, members[{memberid, jointime}])."""
        answer = self.call("msgaudit/groupchat/get", {"roomid": roomid})
        return {k: v for k, v in answer.items() if k not in ("errcode", "errmsg")}


GROUPCHAT_LIST_LIMIT = 1000
TRANSFER_BATCH = 100


def _paged(fetch: Callable[[str], dict], key: str) -> Iterator[dict]:
    cursor = ""
    while True:
        page = fetch(cursor)
        yield from page.get(key, [])
        cursor = page.get("next_cursor") or ""
        if not cursor:
            return


class WeComNotConfigured(WeComError):
    """The connection is off, or lacks the corp id or the secret this call needs."""


def client_for(app: str, **kwargs) -> WeComClient:
    """A client with the stored connection's ``app`` secret (``portal.models.WeComApp``)."""
    from .models import WeComConnection

    connection = WeComConnection.load()
    if not connection.enabled or not connection.corp_id or not connection.has_secret(app):
        raise WeComNotConfigured(None, f"WeCom connection: no corp id or {app} secret, or not enabled", app)
    credentials = WeComCredentials(connection.corp_id, connection.secret(app), base_url=connection.base_url, app=app)
    return WeComClient(credentials, **kwargs)
