"""Login lockout (django-axes): per username and, with its own higher limit, per client address.

django-axes 8 compares one number, the largest failure count of its lockout parameters
(``AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]``), with one limit. Here each parameter
has its own limit: ``AXES_FAILURE_LIMIT`` failures lock a username (from any address),
``AXES_IP_FAILURE_LIMIT`` failures lock an address (whatever usernames it tried, so spraying one
password over many accounts is stopped too). A successful login clears the failures of that
username only: otherwise one valid account would let a sprayer reset their address's count.

The client address is ``client_ip``: REMOTE_ADDR, or behind ``PROXY_COUNT`` reverse proxies the
X-Forwarded-For entry the outermost of them wrote (the same rule as DRF's ``NUM_PROXIES``, so the
API throttles and the lockout count the same clients). X-Forwarded-For is ignored without proxies:
a client could write any address there.
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def client_ip(request) -> str | None:
    """The client's address as the nearest trusted proxy saw it (AXES_CLIENT_IP_CALLABLE)."""
    remote_addr = request.META.get("REMOTE_ADDR")
    proxies = getattr(settings, "PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded.strip():
        return remote_addr
    addresses = [part.strip() for part in forwarded.split(",")]
    return addresses[-min(proxies, len(addresses))] or remote_addr


def limit_for(parameter, request, credentials) -> int:
    """The failure limit of one lockout parameter: the address has its own, the rest the general one."""
    if parameter == "ip_address":
        return settings.AXES_IP_FAILURE_LIMIT
    return get_failure_limit(request, credentials)


class PerUsernameAndAddressHandler(AxesDatabaseHandler):
    """The database handler, with a limit per lockout parameter (module docstring)."""

    def failures_by_parameter(self, request, credentials=None) -> list[tuple[object, int]]:
        """(parameter, failures within the cool-off) for each lockout parameter."""
        parameters = get_lockout_parameters(request, credentials)
        attempts = self.get_user_attempts(request, credentials)
        return [
            (parameter, rows.aggregate(total=Sum("failures_since_start"))["total"] or 0)
            for parameter, rows in zip(parameters, attempts, strict=True)
        ]

    def get_failures(self, request, credentials=None) -> int:
        """The count axes compares with AXES_FAILURE_LIMIT: at or above it exactly when some
        parameter has reached its own limit (an address's count is scaled onto the general limit)."""
        general = get_failure_limit(request, credentials)
        scaled = [
            failures if limit == general else failures * general // max(limit, 1)
            for parameter, failures in self.failures_by_parameter(request, credentials)
            for limit in [limit_for(parameter, request, credentials)]
        ]
        return max(scaled, default=0)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """After a successful login: forget that username's failures, not its address's."""
        username = get_client_username(request, credentials)
        if not username:
            return 0
        count, _ = AccessAttempt.objects.filter(username=username).delete()
        return count
