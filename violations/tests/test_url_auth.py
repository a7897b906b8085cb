"""Walk every violations URL as every role: logged-out users are sent to log in, nobody gets a 500,
and the HR-only endpoint refuses everyone else. A new URL without an entry here fails the test."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from portal.models import ExportJob
from violations import services
from violations.models import Rule

from .conftest import at

EXPECTED = {
    # name: {role: status}; roles absent from the map must not get 5xx
    "violations:mine": {"anon": 302, "hr": 200, "employee": 200, "head": 200, "outsider": 200},
    "violations:report": {"anon": 302, "hr": 200, "employee": 200, "head": 200, "outsider": 200},
    "violations:appeal": {"anon": 302, "hr": 404, "employee": 200, "head": 404, "outsider": 404},
    "violations:evidence": {"anon": 302, "hr": 200, "employee": 200, "head": 404, "outsider": 404},
    "violations:preview": {"anon": 302, "hr": 400, "employee": 403, "head": 403, "outsider": 403},
    "violations:holiday_schedule": {"anon": 302, "hr": 200, "employee": 403, "head": 403, "outsider": 403},
    # report export: HR, auditors and department heads; a job (here HR's) only for its requester and HR
    "violations:export": {"anon": 302, "hr": 200, "employee": 403, "head": 200, "outsider": 403},
    "violations:export_job": {"anon": 302, "hr": 200, "employee": 404, "head": 404, "outsider": 404},
    "violations:export_job_status": {"anon": 302, "hr": 200, "employee": 404, "head": 404, "outsider": 404},
    "violations:export_download": {"anon": 302, "hr": 404, "employee": 404, "head": 404, "outsider": 404},
    # 待核实: HR and the admins of a suspicion's group (head_tech administers none); the pk here is no
    # suspicion (a sanctioned violation): 404 for everyone; decisions are POST only
    "violations:suspicions": {"anon": 302, "hr": 200, "employee": 404, "head": 404, "outsider": 404},
    "violations:suspicion": {"anon": 302, "hr": 404, "employee": 404, "head": 404, "outsider": 404},
    "violations:suspicion_confirm": {"anon": 302, "hr": 405, "employee": 405, "head": 405, "outsider": 405},
    "violations:suspicion_dismiss": {"anon": 302, "hr": 405, "employee": 405, "head": 405, "outsider": 405},
}


def names(resolver, prefix=""):
    for item in resolver.url_patterns:
        if isinstance(item, URLResolver):
            yield from names(item, prefix + (f"{item.namespace}:" if item.namespace else ""))
        elif isinstance(item, URLPattern) and item.name:
            yield prefix + item.name


def test_every_violations_url_is_listed():
    found = {n for n in names(get_resolver()) if n.startswith("violations:") and "format" not in n}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("role", ["anon", "hr", "employee", "head", "outsider"])
def test_url_walk(client, role, hr, employee_user, head_tech, outsider_user, org):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    violation = services.record_violation(
        org["east_rep"],
        Rule.objects.get(code="C04"),
        at(2026, 11, 2, 10),
        "x",
        acting_user=hr,
        confirmed=True,
        evidence_files=[SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)],
    )
    services.apply_sanctions(violation, acting_user=hr)
    services.mark_notified(violation, acting_user=hr)
    users = {"hr": hr, "employee": employee_user, "head": head_tech, "outsider": outsider_user}
    if role != "anon":
        client.force_login(users[role])
    job = ExportJob.objects.create(created_by=hr, params={"month": "2026-11"})  # still queued: no file yet
    args = {
        "violations:export_job": [job.pk],
        "violations:export_job_status": [job.pk],
        "violations:export_download": [job.pk],
        "violations:appeal": [violation.pk],
        "violations:evidence": [violation.evidence.get().pk],
        "violations:suspicion": [violation.pk],
        "violations:suspicion_confirm": [violation.pk],
        "violations:suspicion_dismiss": [violation.pk],
    }
    for name, expected in EXPECTED.items():
        response = client.get(reverse(name, args=args.get(name, [])))
        assert response.status_code == expected[role], (name, role, response.status_code)
