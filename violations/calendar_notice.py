"""Reads for HR's calendar banner: are open deadlines running on a year without the official schedule?"""

from __future__ import annotations

import datetime

from django.utils import timezone

from .choices import AppealStatus, ViolationStatus
from .models import Appeal, Violation
from .workdays import official_data_for, years_without_official_data

YEAR_END_WARNING_DAYS = 45


def local_today() -> datetime.date:
    return timezone.localdate()


def calendar_warning(today: datetime.date | None = None) -> dict | None:
    """What HR must be told, or None: a fixed number of queries (one, at most two lookups more).

    ``deadline_years``: years without official data in which open deadlines (appeal windows, pending
    decisions) run, with how many such deadlines; ``next_year``: the coming year when it starts within
    ``YEAR_END_WARNING_DAYS`` days and has no official data yet.
    """
    today = today or local_today()
    open_violations = Violation.objects.filter(
        status=ViolationStatus.SANCTIONED, notified_at__isnull=False, appeal_deadline__gte=today
    )
    open_appeals = Appeal.objects.filter(status=AppealStatus.PENDING, decision_due__gte=today)
    # The latest open deadline of either kind, in one query.
    latest = (
        open_violations.order_by()
        .values_list("appeal_deadline")
        .union(open_appeals.order_by().values_list("decision_due"), all=True)
        .order_by("-appeal_deadline")
        .first()
    )
    last_year = max(latest[0].year, today.year) if latest else today.year
    missing = years_without_official_data(range(today.year, last_year + 1))
    count = 0
    if missing:
        first = datetime.date(missing[0], 1, 1)
        count = (
            open_violations.filter(appeal_deadline__gte=first).count()
            + open_appeals.filter(decision_due__gte=first).count()
        )
    next_year = today.year + 1
    soon = (datetime.date(next_year, 1, 1) - today).days <= YEAR_END_WARNING_DAYS
    warn_next = soon and next_year not in missing and not official_data_for(next_year)
    if not missing and not warn_next:
        return None
    return {"years": missing, "open_count": count, "next_year": next_year if warn_next else None}
