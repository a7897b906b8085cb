"""Helpers for API tests in every app: a client that authenticates like a real API caller."""

from __future__ import annotations

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def api_for(user=None) -> APIClient:
    """An APIClient sending ``user``'s token (none: anonymous).

    A token, not ``force_authenticate``: each request loads the user and their roles afresh, as
    in production.
    """
    client = APIClient()
    if user is not None:
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def ids(response) -> list[int]:
    """The ids on one page of a list answer."""
    assert response.status_code == 200, response.content
    return sorted(row["id"] for row in response.json()["results"])


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
"""For test modules that create many users: ``settings.PASSWORD_HASHERS = FAST_HASHERS`` in an autouse
fixture (PBKDF2 costs ~0.5 s per user, far more on a loaded machine)."""
