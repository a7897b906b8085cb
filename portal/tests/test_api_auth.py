"""API login: token endpoint, axes lockout, DRF throttling, token and session authentication."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.core.cache import cache
from rest_framework.test import APIClient

from portal.api.testing import FAST_HASHERS, api_for

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "pw-Qungui-2026!"  # conftest's


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    cache.clear()  # throttle counters live in the cache
    yield
    cache.clear()


def login(username, password, client=None):
    return (client or APIClient()).post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_token_login_and_use(org, head_sales):
    response = login("head_sales", PASSWORD)
    assert response.status_code == 200
    token = response.json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/employees/").json()["count"] == 3
    assert login("head_sales", PASSWORD).json()["token"] == token  # the same token again
    head_sales.refresh_from_db()
    assert head_sales.last_login is not None


def test_wrong_password_is_a_400_in_the_error_shape(org, hr):
    response = login("hr", "wrong-password")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["fields"]["non_field_errors"] == ["用户名或密码错误。"]
    assert "token" not in response.json()


def test_missing_fields_name_them(org):
    error = APIClient().post(TOKEN_URL, {}, format="json").json()["error"]
    assert set(error["fields"]) == {"username", "password"}


def test_axes_locks_the_username_after_repeated_failures(org, hr, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login("hr", "wrong").status_code == 400
    assert AccessAttempt.objects.get(username="hr").failures_since_start == settings.AXES_FAILURE_LIMIT - 1
    login("hr", "wrong")  # the limit is reached
    cache.clear()  # not DRF's throttle: axes answers now
    response = login("hr", PASSWORD)  # even the right password is refused while locked
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"
    assert response["Content-Type"] == "application/json"
    assert "token" not in response.json()
    assert login("auditor", PASSWORD).status_code == 400  # other usernames are not locked (no such user yet)


def test_success_resets_the_failure_count(org, hr):
    login("hr", "wrong")
    login("hr", "wrong")
    assert login("hr", PASSWORD).status_code == 200
    assert not AccessAttempt.objects.filter(username="hr", failures_since_start__gt=0).exists()


def test_token_endpoint_is_throttled_per_client(org, hr):
    for n in range(10):  # settings: login 10/min
        assert login(f"nobody{n}", "x").status_code == 400
    response = login("hr", PASSWORD)
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled" and error["fields"] == {}
    assert int(response["Retry-After"]) > 0


def test_bad_token_is_401(org):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/employees/")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"


def test_inactive_user_cannot_log_in_or_use_a_token(org, hr):
    client = api_for(hr)
    hr.is_active = False
    hr.save()
    assert client.get("/api/v1/employees/").status_code == 401
    assert login("hr", PASSWORD).status_code == 400


def test_session_auth_works_and_enforces_csrf_on_writes(org, hr):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(hr)
    assert client.get("/api/v1/employees/").status_code == 200
    response = client.patch(f"/api/v1/employees/{org['east_rep'].pk}/", {"title": "x"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_user_throttle_applies_to_the_api(org, hr, monkeypatch):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "get_rate", lambda self: "3/min")
    client = api_for(hr)
    statuses = [client.get("/api/v1/departments/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
