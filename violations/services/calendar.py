"""The State Council's holiday schedule for a year the chinesecalendar package does not know yet.

``enter_holiday_schedule`` stores HR's reading of the notice as ``WorkdayOverride`` rows belonging to
a ``HolidaySchedule`` (re-entering a year replaces that year's rows in one transaction) and then
**recomputes** the open deadlines whose working days run through that year:

* an open appeal window (sanctioned, notified, deadline not passed) keeps its number of working days
  counted from the notice; the new deadline is never earlier than the one the employee was shown
  (暂定), so the recomputation can only give the employee more time, never take any away;
* a pending appeal's decision due date (HR's own window) is recomputed exactly.

The number of working days is read back from the stored deadline on the calendar as it was
(``workdays_between``), not from today's company settings, so a window changed since is kept.
Every change is audited: the schedule row and each recomputed deadline through django-auditlog,
the override rows (written in bulk) in one summary entry.
"""

from __future__ import annotations

import dataclasses
import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.audit import log_summary
from portal.choices import Channel
from portal.scoping import require_hr

from ..choices import AppealStatus, ViolationStatus
from ..holiday_schedule import ParsedSchedule, parse_schedule
from ..models import Appeal, HolidaySchedule, Violation, WorkdayOverride
from ..workdays import PACKAGE_YEARS, add_workdays, deadline_years, workdays_between
from .common import audited

MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclasses.dataclass
class ScheduleResult:
    schedule: HolidaySchedule
    parsed: ParsedSchedule
    kept_manual: list[datetime.date]  # HR's own overrides on these dates stay (HR overrides win)
    appeal_deadlines: list[tuple[int, datetime.date, datetime.date]]  # (violation id, old, new)
    decision_dues: list[tuple[int, datetime.date, datetime.date]]  # (appeal id, old, new)


def check_year(year) -> int:
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise ValidationError({"year": _("请填写年份。")}) from None
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError({"year": _("年份须在%(a)s至%(b)s之间。") % {"a": MIN_YEAR, "b": MAX_YEAR}})
    if year in PACKAGE_YEARS:
        raise ValidationError(
            {"year": _("%(y)s年的国家放假安排已内置,无需录入;公司自己的调整请用“工作日调整”。") % {"y": year}}
        )
    return year


def read_schedule(year, text: str) -> ParsedSchedule:
    """Check the year and read the notice (the preview); ValidationError naming the field and line."""
    year = check_year(year)
    try:
        return parse_schedule(text, year)
    except ValidationError as error:
        raise ValidationError({"text": error.messages}) from None


def _touches(year: int, deadline: datetime.date, start: datetime.date) -> bool:
    return year in deadline_years(deadline, start)


def open_deadlines(year: int, today: datetime.date):
    """Open appeal windows and pending decisions whose working days run through ``year`` (locked)."""
    violations = [
        v
        for v in Violation.objects.select_for_update()
        .filter(status=ViolationStatus.SANCTIONED, notified_at__isnull=False, appeal_deadline__gte=today)
        .order_by("pk")
        if _touches(year, v.appeal_deadline, timezone.localdate(v.notified_at))
    ]
    appeals = [
        a
        for a in Appeal.objects.select_for_update()
        .filter(status=AppealStatus.PENDING, decision_due__gte=today)
        .order_by("pk")
        if _touches(year, a.decision_due, timezone.localdate(a.filed_at))
    ]
    return violations, appeals


@transaction.atomic
@audited
def enter_holiday_schedule(
    year, text: str, *, acting_user, channel: str = Channel.ADMIN, at: datetime.datetime | None = None
) -> ScheduleResult:
    """HR enters (or re-enters) a year's official schedule; open deadlines through it are recomputed."""
    require_hr(acting_user)
    parsed = read_schedule(year, text)
    year = parsed.year
    at = at or timezone.now()
    today = timezone.localdate(at)

    violations, appeals = open_deadlines(year, today)
    # Working days of each window on the calendar as it was (before this schedule).
    appeal_days = {v.pk: workdays_between(timezone.localdate(v.notified_at), v.appeal_deadline) for v in violations}
    decision_days = {a.pk: workdays_between(timezone.localdate(a.filed_at), a.decision_due) for a in appeals}

    schedule, created = HolidaySchedule.objects.select_for_update().get_or_create(
        year=year, defaults={"entered_by": acting_user, "entered_at": at, "source_text": text}
    )
    replaced = 0
    if not created:
        replaced, _by_model = WorkdayOverride.objects.filter(schedule=schedule).delete()
        schedule.entered_by, schedule.entered_at, schedule.source_text = acting_user, at, text
        schedule.save()
    wanted = parsed.overrides()
    kept = sorted(
        WorkdayOverride.objects.filter(date__in=list(wanted), schedule__isnull=True).values_list("date", flat=True)
    )
    note = _("%(y)s年国务院放假安排") % {"y": year}
    WorkdayOverride.objects.bulk_create(
        WorkdayOverride(date=day, is_workday=workday, note=note, schedule=schedule)
        for day, workday in sorted(wanted.items())
        if day not in kept
    )
    log_summary(
        schedule,
        label=str(schedule),
        changes={
            "holidays": [[None, [d.isoformat() for d in parsed.holidays if d not in kept]]],
            "workdays": [[None, [d.isoformat() for d in parsed.workdays if d not in kept]]],
        },
        data={"replaced_rows": replaced, "kept_manual": [d.isoformat() for d in kept]},
    )

    changed_deadlines = []
    for violation in violations:
        old = violation.appeal_deadline
        new = max(old, add_workdays(timezone.localdate(violation.notified_at), appeal_days[violation.pk]))
        if new != old:
            violation.appeal_deadline = new
            violation.save(update_fields=["appeal_deadline", "updated_at"])
            changed_deadlines.append((violation.pk, old, new))
    changed_dues = []
    for appeal in appeals:
        old = appeal.decision_due
        new = add_workdays(timezone.localdate(appeal.filed_at), decision_days[appeal.pk])
        if new != old:
            appeal.decision_due = new
            appeal.save(update_fields=["decision_due"])
            changed_dues.append((appeal.pk, old, new))
    return ScheduleResult(schedule, parsed, kept, changed_deadlines, changed_dues)
