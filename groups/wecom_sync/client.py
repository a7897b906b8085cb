"""The calls the sync makes, as an interface, and the errors it sorts.

The sync talks to anything with these methods (``SyncClient``): the WeCom client of ``portal.wecom``
through ``connection_client()``, the local faithful server in tests and benchmarks, a test double.
Every method returns the documented JSON body (errcode 0) or raises:

- ``RateLimited`` — errcode 45009 (api freq out of limit), 45033 (api concurrent out of limit) or
  -1 (system busy): back off and try the same call again later; nothing is lost;
- ``ApiError`` — any other errcode (the chat is gone, no permission, a bad secret…), with the code;
- ``TransportError`` — network failure, HTTP error, an answer that is not JSON: may be retried.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Protocol

from django.core.cache import cache

RATE_LIMITED = {45009, 45033, -1}
TOKEN_EXPIRED = {42001, 40014}
TIMEOUT = 10


class SyncError(Exception):
    """Base of the errors below."""


class ApiError(SyncError):
    def __init__(self, errcode: int, errmsg: str = "", call: str = "") -> None:
        self.errcode, self.errmsg, self.call = errcode, errmsg, call
        super().__init__(f"WeCom {call} errcode {errcode}: {errmsg}"[:500])


class RateLimited(ApiError):
    """The API's frequency or concurrency limit: back off, then call again."""


class TransportError(SyncError):
    """No usable answer (network, HTTP status, not JSON)."""


class SyncClient(Protocol):
    """The WeCom server API calls the sync makes (one method per call; bodies as documented)."""

    calls: int

    def department_list(self) -> dict[str, Any]: ...

    def user_list(self, department_id: int) -> dict[str, Any]: ...

    def groupchat_list(self, *, cursor: str = "", limit: int = 1000, status_filter: int = 0) -> dict[str, Any]: ...

    def groupchat_get(self, chat_id: str) -> dict[str, Any]: ...

    def msgaudit_groupchat_get(self, roomid: str) -> dict[str, Any]: ...


def raise_for(body: dict[str, Any], call: str) -> dict[str, Any]:
    """The body when errcode is 0 (or absent); else the typed error."""
    errcode = body.get("errcode", 0)
    if not errcode:
        return body
    error = RateLimited if errcode in RATE_LIMITED else ApiError
    raise error(int(errcode), str(body.get("errmsg", "")), call)


class HttpClient:
    """A thin client over urllib for the sync's calls (one secret: the customer-contact or the
    directory secret; the chat-archive calls use the archive secret: pass another instance).

    The token is cached in the Django cache (shared by every worker) until ``expires_in`` less a
    margin, and fetched again once when WeCom answers 42001 / 40014. ``calls`` counts the requests
    made (token requests included), for the run's figures and the benchmark.
    """

    def __init__(
        self, base: str, corp_id: str, secret: str, *, directory_secret: str = "", archive_secret: str = "", margin=300
    ) -> None:
        if not base.startswith(("https://", "http://")):
            raise ValueError(f"WeCom API base must be http(s): {base!r}")
        self.base, self.corp_id, self.margin = base.rstrip("/"), corp_id, margin
        # 客户联系 secret for externalcontact/*, 通讯录 secret for department/user, 会话存档 secret for msgaudit
        self.secrets = {"contact": secret, "directory": directory_secret or secret, "archive": archive_secret or secret}
        self.calls = 0

    def _request(self, url: str, payload: dict | None) -> dict[str, Any]:
        self.calls += 1
        data = None if payload is None else json.dumps(payload, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310  scheme checked in __init__
            url, data=data, headers={"Content-Type": "application/json; charset=utf-8"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                raw = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransportError(f"WeCom API: {exc}") from exc
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise TransportError(f"WeCom API answered no JSON: {raw[:200]!r}") from exc
        if not isinstance(body, dict):
            raise TransportError("WeCom API answered no object")
        return body

    def _token(self, secret: str, *, refresh: bool = False) -> str:
        digest = hashlib.blake2b(secret.encode(), digest_size=6).hexdigest()  # the secret never in a key
        key = f"wecom:sync-token:{self.corp_id}:{digest}"
        if not refresh and (token := cache.get(key)):
            return token
        query = urllib.parse.urlencode({"corpid": self.corp_id, "corpsecret": secret})
        body = raise_for(self._request(f"{self.base}/gettoken?{query}", None), "gettoken")
        token = str(body.get("access_token") or "")
        if not token:
            raise TransportError("WeCom gettoken answered no access_token")
        lifetime = int(body.get("expires_in") or 7200) - self.margin
        if lifetime > 0:
            cache.set(key, token, timeout=lifetime)
        return token

    def call(self, path: str, payload: dict | None = None, *, query: dict | None = None, app: str = "contact"):
        secret = self.secrets[app]
        for attempt in (0, 1):
            params = {"access_token": self._token(secret, refresh=attempt == 1), **(query or {})}
            url = f"{self.base}/{path}?{urllib.parse.urlencode(params)}"
            body = self._request(url, payload)
            if body.get("errcode") not in TOKEN_EXPIRED:
                break
        return raise_for(body, path)

    def department_list(self) -> dict[str, Any]:
        return self.call("department/list", app="directory")

    def user_list(self, department_id: int) -> dict[str, Any]:
        return self.call("user/list", query={"department_id": department_id, "fetch_child": 1}, app="directory")

    def groupchat_list(self, *, cursor: str = "", limit: int = 1000, status_filter: int = 0) -> dict[str, Any]:
        body: dict[str, Any] = {"status_filter": status_filter, "limit": limit}
        if cursor:
            body["cursor"] = cursor
        return self.call("externalcontact/groupchat/list", body)

    def groupchat_get(self, chat_id: str) -> dict[str, Any]:
        return self.call("externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1})

    def msgaudit_groupchat_get(self, roomid: str) -> dict[str, Any]:
        return self.call("msgaudit/groupchat/get", {"roomid": roomid}, app="archive")


def settings_client() -> HttpClient | None:
    """The client configured by settings (WECOM_CORP_ID, WECOM_CONTACT_SECRET, WECOM_DIRECTORY_SECRET,
    WECOM_ARCHIVE_SECRET, WECOM_API_BASE), or None when the customer-contact secret is not set."""
    from django.conf import settings

    corp, secret = settings.WECOM_CORP_ID, getattr(settings, "WECOM_CONTACT_SECRET", "")
    if not (corp and secret):
        return None
    return HttpClient(
        settings.WECOM_API_BASE,
        corp,
        secret,
        directory_secret=getattr(settings, "WECOM_DIRECTORY_SECRET", ""),
        archive_secret=getattr(settings, "WECOM_ARCHIVE_SECRET", ""),
        margin=settings.WECOM_TOKEN_MARGIN_SECONDS,
    )
