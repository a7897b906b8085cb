"""Monthly performance-score deductions (绩效扣分): the month being computed and one row per person.

A month is *open* while HR may still recompute it and *closed* once frozen. Every employee active in
a month has exactly one ``regular`` row for it; a change that reaches a closed month later (an appeal
decided, a late violation, a sanction withdrawn) is booked as an ``adjustment`` row in a later open
month, naming the closed month it corrects in ``adjusts_month``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from ..choices import DeductionKind, MonthStatus
from ..querysets import PerformanceDeductionQuerySet, PerformanceMonthQuerySet


class PerformanceMonth(models.Model):
    """A month of deductions (first day of the month), open until HR closes (freezes) it."""

    month = models.DateField(_("月份"), unique=True, help_text=_("该月1日"))
    status = models.CharField(
        _("状态"), max_length=8, choices=MonthStatus.choices, default=MonthStatus.OPEN, db_index=True
    )
    computed_at = models.DateTimeField(_("最近计算时间"), null=True, blank=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("计算人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("关账时间"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("关账人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = PerformanceMonthQuerySet.as_manager()

    class Meta:
        verbose_name = _("绩效月份")
        verbose_name_plural = _("绩效月份")
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=MonthStatus.OPEN, closed_at__isnull=True)
                | Q(status=MonthStatus.CLOSED, closed_at__isnull=False),
                name="performancemonth_closed_has_time",
                violation_error_message=_("已关账的月份必须有关账时间。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"

    @property
    def is_closed(self) -> bool:
        return self.status == MonthStatus.CLOSED


class PerformanceDeduction(models.Model):
    """One employee's deductions for one month (``regular``) or a correction of a closed month (``adjustment``).

    Regular row: ``final_score`` = 0 when the month's performance pay is forfeited, else
    max(0, ``base_score`` − ``points_deducted``); ``breakdown["sanctions"]`` names each sanction and
    its violation. Adjustment row (in month M for closed month C = ``adjusts_month``):
    ``points_deducted`` and ``fines_total`` are the signed changes for C, ``forfeit`` and
    ``final_score`` what C amounts to after the correction, ``score_delta`` the change of C's final
    score; ``breakdown`` lists the sanctions ``added`` and ``removed`` and the state ``before``.
    """

    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), on_delete=models.PROTECT, related_name="deductions"
    )
    month = models.DateField(_("月份"), db_index=True)
    kind = models.CharField(_("类型"), max_length=10, choices=DeductionKind.choices, default=DeductionKind.REGULAR)
    adjusts_month = models.DateField(_("调整月份"), null=True, blank=True, help_text=_("补扣/退还所针对的已关账月份"))
    base_score = models.PositiveSmallIntegerField(_("基础分"))
    points_deducted = models.IntegerField(_("扣分"), default=0)
    forfeit = models.BooleanField(_("扣当月全额绩效"), default=False)
    fines_total = models.DecimalField(_("罚款合计(元)"), max_digits=12, decimal_places=2, default=Decimal("0"))
    final_score = models.IntegerField(_("最终得分"))
    score_delta = models.IntegerField(_("得分调整"), default=0)
    sanction_count = models.PositiveIntegerField(_("处分数"), default=0)
    breakdown = models.JSONField(_("明细"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("计算时间"), help_text=_("本行数值最近一次变化的时间"))

    objects = PerformanceDeductionQuerySet.as_manager()

    # A row's identity, its scores, and the rest, in one order: the deductions job writes these, the
    # API and the admin show them (one list, so a new score column reaches all three).
    KEY_FIELDS = ("employee_id", "month", "kind", "adjusts_month")
    SCORE_FIELDS = (
        "base_score",
        "points_deducted",
        "forfeit",
        "fines_total",
        "final_score",
        "score_delta",
        "sanction_count",
    )
    ROW_FIELDS = (*KEY_FIELDS, *SCORE_FIELDS, "breakdown", "computed_at")

    class Meta:
        verbose_name = _("绩效扣分")
        verbose_name_plural = _("绩效扣分")
        ordering = ["-month", "employee_id", "kind", "adjusts_month"]
        indexes = [models.Index(fields=["month", "kind"], name="deduction_month_kind")]
        constraints = [
            # Partial unique indexes: NULL adjusts_month would make a plain unique constraint useless.
            models.UniqueConstraint(
                fields=["employee", "month"],
                condition=Q(kind=DeductionKind.REGULAR),
                name="deduction_one_regular_per_month",
                violation_error_message=_("该员工本月已有常规扣分记录。"),
            ),
            models.UniqueConstraint(
                fields=["employee", "month", "adjusts_month"],
                condition=Q(kind=DeductionKind.ADJUSTMENT),
                name="deduction_one_adjustment_per_month_pair",
                violation_error_message=_("该员工本月已有针对该月份的调整记录。"),
            ),
            models.CheckConstraint(
                condition=Q(kind=DeductionKind.REGULAR, adjusts_month__isnull=True, score_delta=0)
                | Q(kind=DeductionKind.ADJUSTMENT, adjusts_month__lt=F("month")),
                name="deduction_adjustment_names_earlier_month",
                violation_error_message=_("调整记录必须针对更早的月份;常规记录不能有调整月份。"),
            ),
            models.CheckConstraint(
                condition=~Q(kind=DeductionKind.REGULAR) | Q(points_deducted__gte=0, fines_total__gte=0),
                name="deduction_regular_not_negative",
                violation_error_message=_("常规记录的扣分和罚款不能为负。"),
            ),
            models.CheckConstraint(
                condition=Q(final_score__gte=0),
                name="deduction_final_score_not_negative",
                violation_error_message=_("最终得分不能为负。"),
            ),
        ]

    def __str__(self) -> str:
        if self.kind == DeductionKind.ADJUSTMENT and self.adjusts_month:
            return f"{self.employee_id} · {self.month:%Y-%m} · {_('调整')} {self.adjusts_month:%Y-%m}"
        return f"{self.employee_id} · {self.month:%Y-%m}"

    @property
    def is_adjustment(self) -> bool:
        return self.kind == DeductionKind.ADJUSTMENT
