"""Request ids: every request gets one, every log line of it carries it, the response returns it.

Except requests that must not be linkable to their sender (the report page, where a report may be
anonymous): a view decorated with ``unlinked`` runs with no request id at all, so neither its log
lines nor its audit rows (whose correlation id is the request id, see portal.logging) carry the id
that the proxy logs next to the client address; the request log line names no user and no id, and
no X-Request-ID is echoed.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from .logging import request_id_var

logger = logging.getLogger("qungui.request")

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is reused only when it is short and harmless in a log line or a header.
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_QUIET_PATHS = ("/healthz", "/readyz", "/static/")


def incoming_request_id(request: HttpRequest) -> str:
    candidate = request.headers.get(REQUEST_ID_HEADER, "")
    return candidate if _VALID_ID.match(candidate) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Assign ``request.request_id``, expose it to logging, echo it in ``X-Request-ID``, log the request.

    Goes first in MIDDLEWARE so that every later middleware's log lines carry the id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = incoming_request_id(request)
        token = request_id_var.set(request.request_id)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            if is_unlinked(request):
                request_id_var.set("")
            else:
                response[REQUEST_ID_HEADER] = request.request_id
            self._log(request, response.status_code, started)
            return response
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _log(request: HttpRequest, status: int, started: float) -> None:
        level = logging.DEBUG if request.path.startswith(_QUIET_PATHS) and status < 400 else logging.INFO
        unlinked = is_unlinked(request)
        logger.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
                "user_id": None if unlinked else _user_id_if_loaded(request),
            },
        )


_UNLINKED_ATTR = "_qungui_unlinked"


def is_unlinked(request: HttpRequest) -> bool:
    return getattr(request, _UNLINKED_ATTR, False)


def unlinked(view):
    """Run ``view`` without a request id, and log its request without user or id (module docstring)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        setattr(request, _UNLINKED_ATTR, True)
        request.request_id = ""
        # Not reset when the view returns: Django's own error log line for this request (written
        # after the view, inside the middleware) must not carry the id either. RequestIdMiddleware
        # restores the outer value when the request ends.
        request_id_var.set("")
        return view(request, *args, **kwargs)

    return wrapper


def _user_id_if_loaded(request: HttpRequest) -> int | None:
    # Only a user the view already loaded: resolving the lazy user here would add session and
    # user queries to every request (and to every query-count assertion).
    user = request.__dict__.get("user")
    wrapped = getattr(user, "_wrapped", user)
    if user is None or wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk
