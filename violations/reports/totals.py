"""The totals sheets of the XLSX report: by department, rule category, group and employee (with scores)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, IntegerField, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from groups.choices import Platform
from portal.exports import neutralize
from portal.postgres import jit_off

from ..choices import VOID_STATUSES, DeductionKind, RuleCategory, SanctionKind
from .sql import CHUNK_SIZE, MONEY


@dataclass(frozen=True)
class TotalsSpec:
    """A totals sheet: GROUP BY these fields; ``labels`` turn raw values into display text."""

    fields: tuple[str, ...]
    headers: Callable[[], list[str]]
    labels: Callable[[tuple], tuple] = lambda values: values
    scores: bool = False  # per employee: add one performance-score column per month of the period


METRIC_HEADERS = (
    gettext_lazy("违规数"),
    gettext_lazy("成立数"),
    gettext_lazy("罚款合计(元)"),
    gettext_lazy("扣绩效分合计"),
    gettext_lazy("记过次数"),
)


def totals(qs, fields: Iterable[str]) -> Iterator[tuple]:
    """(group values..., violations, standing violations, fines, points, demerits) per group.

    Fines, points and demerits count the sanctions still standing, the same set as the detail rows.
    """
    standing = Q(sanctions__withdrawn_at__isnull=True)
    fields = list(fields)
    grouped = (
        qs.prefetch_related(None)
        .order_by()
        .values(*fields)
        .annotate(
            n=Count("pk", distinct=True),
            n_standing=Count("pk", distinct=True, filter=~Q(status__in=VOID_STATUSES)),
            fines=Coalesce(Sum("sanctions__amount", filter=standing), Value(Decimal("0.00")), output_field=MONEY),
            points=Coalesce(Sum("sanctions__points", filter=standing), Value(0), output_field=IntegerField()),
            demerits=Count("sanctions", filter=standing & Q(sanctions__kind=SanctionKind.DEMERIT)),
        )
        .order_by(*fields)
        .values_list(*fields, "n", "n_standing", "fines", "points", "demerits")
    )
    with jit_off():  # the report's long read (portal.postgres)
        yield from grouped.iterator(chunk_size=CHUNK_SIZE)


def _category_labels(values: tuple) -> tuple:
    return (str(RuleCategory(values[0]).label) if values[0] in RuleCategory.values else values[0],)


def _group_labels(values: tuple) -> tuple:
    name, platform = values
    return (name or _("(群外)"), str(Platform(platform).label) if platform in Platform.values else "")


TOTALS: list[tuple[Callable[[], str], TotalsSpec]] = [
    (
        lambda: _("按部门汇总"),
        TotalsSpec(("employee__department__name_path",), lambda: [_("部门")]),
    ),
    (
        lambda: _("按条款类别汇总"),
        TotalsSpec(("rule__category",), lambda: [_("条款类别")], _category_labels),
    ),
    (
        lambda: _("按工作群汇总"),
        TotalsSpec(("group__name", "group__platform"), lambda: [_("工作群"), _("平台")], _group_labels),
    ),
    (
        lambda: _("按员工汇总"),
        TotalsSpec(
            ("employee__employee_no", "employee__name", "employee__department__name_path"),
            lambda: [_("工号"), _("姓名"), _("部门")],
            scores=True,
        ),
    ),
]


MAX_SCORE_MONTHS = 12


def score_months(qs) -> list[datetime.date]:
    """The months (first days, company time zone) the report's violations fall in; the latest 12."""
    months = (
        qs.order_by()
        .annotate(_month=TruncMonth("occurred_at", tzinfo=timezone.get_current_timezone()))
        .values_list("_month", flat=True)
        .distinct()
    )
    firsts = sorted({timezone.localtime(m).date() if isinstance(m, datetime.datetime) else m for m in months})
    return firsts[-MAX_SCORE_MONTHS:]


def performance_scores(deductions, qs, months: list[datetime.date]) -> dict[tuple[int, datetime.date], int]:
    """(employee id, month) -> that month's performance score as it stands now.

    The score of month M is the regular row's ``final_score``, unless M was corrected after it was
    closed: then the latest adjustment row for M carries what M amounts to (its ``final_score``).
    Only employees of the report's violations, and only rows ``deductions`` (scoped) lets through.
    """
    if not months:
        return {}
    rows = (
        deductions.filter(employee_id__in=qs.order_by().values("employee_id"))
        .filter(
            Q(kind=DeductionKind.REGULAR, month__in=months) | Q(kind=DeductionKind.ADJUSTMENT, adjusts_month__in=months)
        )
        .order_by()
        .values_list("employee_id", "kind", "month", "adjusts_month", "final_score")
    )
    ordered = sorted(rows, key=lambda r: (r[1] != DeductionKind.REGULAR, r[2]))  # regular first, then by month
    scores = {}
    for employee_id, kind, month, adjusts, score in ordered:
        scores[(employee_id, adjusts if kind == DeductionKind.ADJUSTMENT else month)] = score
    return scores


def write_totals_sheet(workbook, styles, title: str, spec: TotalsSpec, qs, deductions) -> None:
    sheet = workbook.add_worksheet(title[:31])
    months = score_months(qs) if spec.scores else []
    scores = performance_scores(deductions, qs, months)
    headers = spec.headers() + [str(h) for h in METRIC_HEADERS]
    headers += [_("%(month)s 绩效得分") % {"month": month.strftime("%Y-%m")} for month in months]
    for col, header in enumerate(headers):
        sheet.set_column(col, col, 24 if col < len(spec.fields) else 14)
        sheet.write_string(0, col, neutralize(header), styles["head"])
    sheet.freeze_panes(1, 0)
    width = len(spec.fields)
    fields = (*spec.fields, "employee_id") if spec.scores else spec.fields
    metrics_at = len(fields)
    sums = [0, 0, Decimal(0), 0, 0]
    row = 0
    for row, values in enumerate(totals(qs, fields), start=1):
        for col, text in enumerate(spec.labels(values[:width])):
            sheet.write_string(row, col, neutralize(str(text or "")))
        for offset, number in enumerate(values[metrics_at:]):
            sheet.write_number(row, width + offset, number, styles["money"] if offset == 2 else None)
            sums[offset] += number
        for offset, month in enumerate(months):
            score = scores.get((values[width], month))
            if score is not None:  # not computed yet (or not visible): left empty, not 0
                sheet.write_number(row, width + len(METRIC_HEADERS) + offset, score)
    sheet.write_string(row + 1, 0, _("合计"), styles["head"])
    for offset, number in enumerate(sums):
        sheet.write_number(row + 1, width + offset, number, styles["head"])
