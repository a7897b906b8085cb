"""Helpers for the violations tests: record a violation the way HR does, through the services."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from violations import services
from violations.models import Rule

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The fixtures create several users; the production hasher would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sanction(hr, org):
    """sanction(code, when, employee=..., sanctions=None) -> the sanctioned Violation."""

    def make(code, when, *, employee=None, sanctions=None, group="sales"):
        violation = services.record_violation(
            employee or org["east_rep"],
            Rule.objects.get(code=code),
            when,
            f"{code} test",
            acting_user=hr,
            group=org["sales_group"] if group == "sales" else group,
            confirmed=True,
        )
        services.apply_sanctions(violation, sanctions, acting_user=hr)
        violation.refresh_from_db()
        return violation

    return make


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def room(org):
    """销售部工作群 with its leader and three members, for the R01/R03 detector tests."""
    from .responsiveness_data import build_room

    return build_room(org)
