"""WeCom application messages (企业微信应用消息): a text card to one member, by their WeCom userid.

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

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from html import escape

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


def configured() -> bool:
    return bool(settings.WECOM_CORP_ID and settings.WECOM_AGENT_ID and settings.WECOM_APP_SECRET)


def _token_cache_key() -> str:
    return f"wecom:token:{settings.WECOM_CORP_ID}:{settings.WECOM_AGENT_ID}"


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
    key = _token_cache_key()
    if not refresh:
        token = cache.get(key)
        if token:
            return token
    query = urllib.parse.urlencode({"corpid": settings.WECOM_CORP_ID, "corpsecret": settings.WECOM_APP_SECRET})
    body = _call(f"{settings.WECOM_API_BASE}/gettoken?{query}")
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


def textcard(userid: str, title: str, body: str, url: str) -> dict:
    """The ``message/send`` payload: the body's lines as the card's description (escaped, clipped)."""
    description = _clip(escape(body, quote=False), DESCRIPTION_BYTES)
    return {
        "touser": userid,
        "msgtype": "textcard",
        "agentid": int(settings.WECOM_AGENT_ID),
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
    if not configured():
        raise DeliveryRejected("WeCom application not configured (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_APP_SECRET)")
    if not userid:
        raise DeliveryRejected("no WeCom userid")
    if not str(settings.WECOM_AGENT_ID).isdigit():
        raise DeliveryRejected(f"WECOM_AGENT_ID must be the application's number, not {settings.WECOM_AGENT_ID!r}")
    payload = textcard(userid, title, body, url)
    token = access_token()
    answer = _call(f"{settings.WECOM_API_BASE}/message/send?access_token={urllib.parse.quote(token)}", payload)
    if answer.get("errcode") in TOKEN_EXPIRED:
        logger.info("WeCom token refused (errcode %s): fetching a new one", answer.get("errcode"))
        cache.delete(_token_cache_key())
        token = access_token(refresh=True)
        answer = _call(f"{settings.WECOM_API_BASE}/message/send?access_token={urllib.parse.quote(token)}", payload)
    _raise_for(answer, "message/send")
    refused = {u for field in ("invaliduser", "unlicenseduser") for u in str(answer.get(field) or "").split("|")}
    if userid in refused:
        raise DeliveryRejected(
            f"WeCom message/send: user {userid!r} invalid or outside the application's visible range"
            f" (invaliduser={answer.get('invaliduser', '')!r}, unlicenseduser={answer.get('unlicenseduser', '')!r})"
        )
    return str(answer.get("msgid", ""))
