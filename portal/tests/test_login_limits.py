"""Login lockout per client address as well as per username (password spraying), behind proxies too."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.urls import reverse

from portal.login_limits import client_ip

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Qungui-2026!"  # conftest's


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_IP_FAILURE_LIMIT = 30


def login(client, username, password, **meta):
    return client.post(reverse("login"), {"username": username, "password": password}, **meta)


def spray(client, count, **meta):
    """One wrong password for each of ``count`` different usernames: no username reaches its limit.
    (The failure that reaches the address limit is itself answered with the lockout.)"""
    for n in range(count):
        expected = 200 if n < 29 else 429
        assert login(client, f"user{n:02d}", "Spring2026!", **meta).status_code == expected, n


def test_one_address_spraying_many_usernames_is_locked(client, hr, employee_user):
    spray(client, 30)
    assert not AccessAttempt.objects.filter(failures_since_start__gt=1).exists()  # 1 per username
    response = login(client, "employee", PASSWORD)  # even a right password, from that address
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert login(client, "user99", "Spring2026!").status_code == 429  # the 40th username too
    # Another address is not affected.
    assert login(client, "employee", PASSWORD, REMOTE_ADDR="10.8.0.2").status_code == 302


def test_below_the_address_limit_nothing_is_locked(client, employee_user):
    spray(client, 29)
    assert login(client, "employee", PASSWORD).status_code == 302


def test_a_success_does_not_reset_the_address_count(client, hr, employee_user):
    """A sprayer holding one valid account cannot clear their address's failures by logging in."""
    spray(client, 29)
    assert login(client, "employee", PASSWORD).status_code == 302
    client.logout()
    assert login(client, "user98", "Spring2026!").status_code == 429  # the 30th failure locks
    assert login(client, "hr", PASSWORD).status_code == 429


def test_a_success_resets_the_own_username_failures(client, hr):
    for _ in range(4):
        login(client, "hr", "wrong-password")
    assert login(client, "hr", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.filter(username="hr").exists()


def test_username_lock_still_applies_from_any_address(client, hr):
    for n in range(5):
        login(client, "hr", "wrong-password", REMOTE_ADDR=f"10.9.0.{n + 1}")
    assert login(client, "hr", PASSWORD, REMOTE_ADDR="10.9.0.99").status_code == 429


def test_api_token_login_counts_the_address_too(client, hr, employee_user):
    from django.core.cache import cache
    from rest_framework.test import APIClient

    spray(client, 30)
    cache.clear()  # DRF's per-IP throttle is a different guard; axes answers here
    response = APIClient().post("/api/v1/auth/token/", {"username": "employee", "password": PASSWORD}, format="json")
    assert response.status_code == 429 and response.json()["error"]["code"] == "locked_out"


def test_without_proxies_x_forwarded_for_is_ignored(client, employee_user, settings):
    """A sprayer cannot dodge the address lock by writing a new X-Forwarded-For each time."""
    settings.PROXY_COUNT = 0
    for n in range(30):
        login(client, f"user{n:02d}", "Spring2026!", HTTP_X_FORWARDED_FOR=f"198.51.100.{n + 1}")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}
    assert login(client, "employee", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.200").status_code == 429


def test_behind_a_proxy_clients_are_told_apart_by_forwarded_for(client, employee_user, settings):
    """Behind nginx every request comes from the proxy's address: the lock must hit the client only."""
    settings.PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "172.18.0.5"}
    spray(client, 30, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy)
    assert login(client, "employee", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7", **proxy).status_code == 429
    assert login(client, "employee", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy).status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "10.0.0.1"),
        (0, "1.2.3.4", "10.0.0.1"),  # no proxy: the header is the client's own words
        (1, "", "10.0.0.1"),
        (1, "1.2.3.4", "1.2.3.4"),
        (1, "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client prepended a fake: the proxy's entry counts
        (2, "6.6.6.6, 1.2.3.4, 172.18.0.9", "1.2.3.4"),
        (3, "1.2.3.4", "1.2.3.4"),  # fewer entries than proxies: the left-most
    ],
)
def test_client_ip(settings, proxies, forwarded, expected):
    settings.PROXY_COUNT = proxies
    meta = {"REMOTE_ADDR": "10.0.0.1"}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(RequestFactory().get("/", **meta)) == expected
