"""What a report covers: the period, the department subtree, the selected ids; bad input names the parameter."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import Department
from portal import months


class ReportError(ValueError):
    """Bad report parameters; ``field`` names the parameter."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ReportParams:
    """What to export: a period (inclusive dates, company time zone), a department subtree, or ids."""

    start: datetime.date | None = None
    end: datetime.date | None = None
    department_id: int | None = None
    ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.ids is None and (self.start is None or self.end is None):
            raise ReportError("period", _("请填写月份或起止日期。"))
        if self.start and self.end and self.start > self.end:
            raise ReportError("end", _("结束日期不能早于开始日期。"))

    def to_json(self) -> dict:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "department_id": self.department_id,
            "ids": list(self.ids) if self.ids is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> ReportParams:
        def day(value):
            return datetime.date.fromisoformat(value) if value else None

        ids = data.get("ids")
        return cls(day(data.get("start")), day(data.get("end")), data.get("department_id"), tuple(ids) if ids else ids)

    def slug(self) -> str:
        """For file names: 2026-10, 2026-10-01_2026-10-15 or selected."""
        if self.ids is not None:
            return "selected"
        if self.start.day == 1 and self.end == months.month_end(self.start):
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def describe(self, department: Department | None = None) -> str:
        if self.ids is not None:
            text = _("所选记录 %(n)s 条") % {"n": len(self.ids)}
        elif self.start.day == 1 and self.end == months.month_end(self.start):
            text = self.start.strftime("%Y-%m")
        else:
            text = f"{self.start.isoformat()} – {self.end.isoformat()}"
        return f"{text} · {department.name_path if department else _('全部')}"


def parse_month(text: str) -> tuple[datetime.date, datetime.date]:
    """'2026-10' -> (2026-10-01, 2026-10-31); ReportError naming "month" otherwise."""
    try:
        first = months.parse_month(text)
    except ValidationError as error:
        raise ReportError("month", months.month_error(error)) from None
    return first, months.month_end(first)


def resolve_department(user, department_id: int | None) -> Department | None:
    """The department, if ``user`` may see it; Department.DoesNotExist otherwise (callers: 404)."""
    if department_id is None:
        return None
    return Department.objects.visible_to(user).get(pk=department_id)


def report_queryset(base, params: ReportParams, department: Department | None = None):
    """Narrow a scoped violation queryset to the report's period, department subtree and ids.

    Suspicions of chat detection not confirmed yet (待核实) are no violations: never in a report."""
    qs = base.counted()
    if params.start is not None:
        tz = timezone.get_current_timezone()
        start = datetime.datetime.combine(params.start, datetime.time.min, tzinfo=tz)
        end = datetime.datetime.combine(params.end + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
        qs = qs.filter(occurred_at__gte=start, occurred_at__lt=end)
    if department is not None:
        qs = qs.filter(employee__department__path__startswith=department.path)
    if params.ids is not None:
        qs = qs.filter(pk__in=params.ids)
    return qs
