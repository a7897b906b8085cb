"""The calls the sync makes, as an interface, and the errors it sorts.

The sync talks to anything with these methods (``SyncClient``): ``WeComApi``, which puts the
server API client of ``portal.wecom`` (one ``WeComClient`` per secret: 通讯录, 客户联系, 会话存档)
behind them, or a test double. ``WeComClient`` already backs off on rate limits and retries
network faults; what it still raises after that is sorted here for the sync:
Every method returns the documented JSON body (errcode 0) or raises:

- ``RateLimited`` — errcode 45009 (api freq out of limit), 45033 (api concurrent out of limit) or
  -1 (system busy): back off and try the same call again later; nothing is lost;
- ``ApiError`` — any other errcode (the chat is gone, no permission, a bad secret…), with the code;
- ``TransportError`` — network failure, HTTP error, an answer that is not JSON: may be retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from portal import wecom

logger = logging.getLogger(__name__)

RATE_LIMITED = {45009, 45033, -1}


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
    has_directory: bool  # a 通讯录 secret: the organisation phase runs
    has_archive: bool  # a 会话存档 secret: internal rooms are fetched

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


class WeComApi:
    """The sync's calls on ``portal.wecom.WeComClient``, one client per secret, answering the
    documented bodies and raising this module's errors."""

    def __init__(self, *, customer, contacts=None, archive=None) -> None:
        self.customer, self.contacts, self.archive = customer, contacts, archive
        self.has_directory, self.has_archive = contacts is not None, archive is not None

    @property
    def calls(self) -> int:
        return sum(c.calls for c in (self.customer, self.contacts, self.archive) if c is not None)

    @staticmethod
    def _do(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except wecom.WeComRateLimited as exc:
            raise RateLimited(exc.errcode or 45009, exc.errmsg, exc.path) from None
        except wecom.WeComUnavailable as exc:
            raise TransportError(str(exc)) from None
        except wecom.WeComError as exc:
            raise ApiError(exc.errcode or 0, exc.errmsg, exc.path) from None

    def department_list(self) -> dict[str, Any]:
        return {"department": self._do(self.contacts.department_list)}

    def user_list(self, department_id: int) -> dict[str, Any]:
        return {"userlist": self._do(self.contacts.user_list, department_id, fetch_child=True)}

    def groupchat_list(self, *, cursor: str = "", limit: int = 1000, status_filter: int = 0) -> dict[str, Any]:
        return self._do(self.customer.groupchat_list, cursor=cursor, limit=limit, status_filter=status_filter)

    def groupchat_get(self, chat_id: str) -> dict[str, Any]:
        return {"group_chat": self._do(self.customer.groupchat_get, chat_id, need_name=True)}

    def msgaudit_groupchat_get(self, roomid: str) -> dict[str, Any]:
        return self._do(self.archive.msgaudit_groupchat_get, roomid)


def api_for(base_url: str, corp_id: str, secrets: dict[str, str], **client_options: Any) -> WeComApi | None:
    """``WeComApi`` for the secrets given (keys ``customer``, ``contacts``, ``archive``); None without
    the customer-contact secret (no customer groups: nothing to sync)."""

    def client(app: str):
        if not secrets.get(app):
            return None
        credentials = wecom.WeComCredentials(corp_id, secrets[app], base_url=base_url, app=app)
        return wecom.WeComClient(credentials, **client_options)

    customer = client("customer")
    if customer is None:
        return None
    return WeComApi(customer=customer, contacts=client("contacts"), archive=client("archive"))


def configured_api() -> WeComApi | None:
    """The API of the WeCom connection HR configured (admin 企业微信连接: enabled, with the customer-contact
    secret), else of the settings (WECOM_CORP_ID, WECOM_CONTACT_SECRET, …); None when neither is set."""
    from django.conf import settings

    from portal.models import WeComConnection
    from portal.secrets import SecretUnreadable

    connection = WeComConnection.load()
    if connection.enabled and connection.corp_id:
        apps = {"customer": "customer_enabled", "contacts": "contacts_enabled", "archive": "archive_enabled"}
        secrets = {}
        for app, flag in apps.items():
            if getattr(connection, flag) and connection.has_secret(app):
                try:
                    secrets[app] = connection.secret(app)
                except SecretUnreadable:  # the key changed: that app is off until HR enters it again
                    logger.warning("WeCom connection: the stored %s secret cannot be decrypted", app)
        return api_for(connection.base_url, connection.corp_id, secrets)
    secrets = {
        "customer": getattr(settings, "WECOM_CONTACT_SECRET", ""),
        "contacts": getattr(settings, "WECOM_DIRECTORY_SECRET", ""),
        "archive": getattr(settings, "WECOM_ARCHIVE_SECRET", ""),
    }
    if not settings.WECOM_CORP_ID:
        return None
    return api_for(settings.WECOM_API_BASE, settings.WECOM_CORP_ID, secrets)
