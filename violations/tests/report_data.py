"""October 2026 for the report tests: violations in 销售部/华东区 and 技术部, one outside the month,
one dismissed (sanctions withdrawn), one with an upheld appeal, one with a formula-like name."""

from __future__ import annotations

import datetime
import io

from django.utils import timezone

from violations import services
from violations.choices import AppealStatus, ViolationStatus
from violations.models import Appeal, Rule, Violation

from .conftest import at

OCTOBER = (datetime.date(2026, 10, 1), datetime.date(2026, 10, 31))
INJECTIONS = [
    *("=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\tTAB", "\rCR", "\nLF"),
    *(" =1+1", "\u3000=1+1", "|calc", "\u3000\u200b@SUM(A1)", "＝1+1"),
]


def make_october(hr, org, sanction) -> dict[str, Violation]:
    made = {
        "ad": sanction("C06", at(2026, 10, 5, 10, 0), employee=org["east_rep"], group=org["sales_group"]),
        "fine": sanction("R01", at(2026, 10, 10, 9, 0), employee=org["tech_dev"], group=org["tech_group"]),
        # 23:30 on 31 October in Shanghai is still October (15:30 UTC).
        "insult": sanction("B02", at(2026, 10, 31, 23, 30), employee=org["sales_head"], group=org["sales_group"]),
        # 00:10 on 1 November in Shanghai is 16:10 UTC on 31 October: not in the October report.
        "november": sanction("C08", at(2026, 11, 1, 0, 10), employee=org["east_rep"]),
    }
    rule = Rule.objects.get(code="C10")
    dismissed = services.record_violation(
        org["east_rep"], rule, at(2026, 10, 20, 14, 0), "刷屏", acting_user=hr, group=None, confirmed=True
    )
    services.apply_sanctions(dismissed, acting_user=hr)
    made["dismissed"] = services.dismiss_violation(dismissed, "截图不清", acting_user=hr)
    Appeal.objects.create(
        violation=made["ad"],
        statement="不是广告",
        decision_due=datetime.date(2026, 10, 20),
        status=AppealStatus.UPHELD,
        decided_at=timezone.now(),
        decision_reason="确属广告",
    )
    Violation.objects.filter(pk=made["ad"].pk).update(status=ViolationStatus.UPHELD)
    return made


def csv_rows(content: bytes, encoding: str = "utf-8-sig") -> list[list[str]]:
    import csv

    return list(csv.reader(io.StringIO(content.decode(encoding), newline="")))


def active_totals(violation: Violation) -> tuple[str, int]:
    """(fine as text with 2 decimals, points) of the sanctions still standing on ``violation``."""
    active = violation.sanctions.filter(withdrawn_at__isnull=True)
    fine = sum((s.amount or 0) for s in active)
    return f"{fine:.2f}", sum(s.points for s in active)
