"""The demo seed and the recompute command run through the services and leave a consistent ladder."""

from __future__ import annotations

import random
from io import StringIO

from auditlog.models import LogEntry
from django.core.management import call_command

from groups.models import Membership
from violations.demo import seed_violations
from violations.models import Sanction, Violation


def test_seed_violations(org):
    Membership.objects.create(group=org["sales_group"], employee=org["east_rep"], nickname="华东区-张三")
    assert seed_violations(random.Random(7), count=60) == 60
    assert Violation.objects.count() == 60
    statuses = set(Violation.objects.values_list("status", flat=True))
    assert {"sanctioned", "dismissed"} <= statuses
    assert Sanction.objects.filter(is_derived=True).exists()
    assert LogEntry.objects.filter(additional_data__channel="system").exists()
    out = StringIO()
    call_command("recompute_escalation", stdout=out)  # the seed left the ladder complete
    assert "created=0 withdrawn=0" in out.getvalue()


def test_seed_without_employees(db):
    assert seed_violations(random.Random(1)) == 0
