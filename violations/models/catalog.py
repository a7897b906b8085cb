"""The company's rulebook: rule catalog, ladder settings and the working-day overrides."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from ..choices import RuleCategory, SanctionKind
from ..querysets import RuleQuerySet

SPEC_KEYS = {"kind", "amount", "points", "days"}


def validate_sanction_specs(value) -> None:
    """A list like ``[{"kind": "fine", "amount": "100"}, {"kind": "removal", "days": 30}]``.

    ``amount`` (CNY) is positive for a fine (absent: the rule's 罚款金额) and forbidden otherwise; ``points`` is a
    whole number ≥ 0; ``days`` (no-rejoin period for a removal, duration of a mute) a whole number ≥ 1,
    absent for a permanent removal.
    """
    if not isinstance(value, list):
        raise ValidationError(_("处分列表必须是列表。"))
    for index, spec in enumerate(value, start=1):
        if not isinstance(spec, dict) or spec.get("kind") not in SanctionKind.values:
            raise ValidationError(_("第%(n)s项: 未知的处分类型。"), params={"n": index})
        if set(spec) - SPEC_KEYS:
            unknown = sorted(set(spec) - SPEC_KEYS)
            raise ValidationError(_("第%(n)s项: 未知的字段 %(f)s。"), params={"n": index, "f": unknown})
        _validate_amount(index, spec)
        for key, minimum in (("points", 0), ("days", 1)):
            if key in spec and (not isinstance(spec[key], int) or spec[key] < minimum):
                raise ValidationError(
                    _("第%(n)s项: %(f)s 必须是不小于%(m)s的整数。"), params={"n": index, "f": key, "m": minimum}
                )


def _validate_amount(index: int, spec: dict) -> None:
    if spec["kind"] != SanctionKind.FINE:
        if "amount" in spec:
            raise ValidationError(_("第%(n)s项: 只有罚款有金额。"), params={"n": index})
        return
    if "amount" not in spec:
        return  # the rule's 罚款金额 applies (services.sanctions); Rule.clean checks it is set
    try:
        amount = Decimal(str(spec.get("amount")))
    except InvalidOperation:
        amount = Decimal(0)
    if not amount.is_finite() or amount <= 0:
        raise ValidationError(_("第%(n)s项: 罚款金额必须大于0。"), params={"n": index})


class Rule(models.Model):
    """One clause of the company's work-group regulation (条款), with its default sanctions.

    ``repeat_threshold``/``repeat_sanctions`` are the rule's own escalation: e.g. C06 (ads) — the
    2nd occurrence within the ladder window adds a removal from the group. A rule that was ever used
    is kept forever (PROTECT); HR deactivates it instead.
    """

    code = models.CharField(_("编号"), max_length=10, unique=True)
    title_zh = models.CharField(_("中文名称"), max_length=200)
    title_en = models.CharField(_("英文名称"), max_length=200)
    category = models.CharField(_("类别"), max_length=20, choices=RuleCategory.choices, db_index=True)
    description = models.TextField(_("说明"), blank=True)
    default_sanctions = models.JSONField(
        _("默认处分"),
        default=list,
        blank=True,
        validators=[validate_sanction_specs],
        help_text=_('例: [{"kind": "warning"}]'),
    )
    performance_points = models.PositiveSmallIntegerField(_("扣绩效分"), default=0)
    fine_amount = models.DecimalField(_("罚款金额(元)"), max_digits=10, decimal_places=2, default=Decimal("0"))
    repeat_threshold = models.PositiveSmallIntegerField(
        _("重复升级次数"),
        null=True,
        blank=True,
        validators=[MinValueValidator(2)],
        help_text=_("窗口期内第N次违反本条时追加下列处分;为空表示不单独升级"),
    )
    repeat_sanctions = models.JSONField(
        _("重复升级处分"), default=list, blank=True, validators=[validate_sanction_specs]
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = RuleQuerySet.as_manager()

    class Meta:
        verbose_name = _("条款")
        verbose_name_plural = pgettext_lazy("plural", "条款")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fine_amount__gte=0),
                name="rule_fine_not_negative",
                violation_error_message=_("罚款金额不能为负。"),
            ),
            models.CheckConstraint(
                condition=Q(repeat_threshold__isnull=True) | Q(repeat_threshold__gte=2),
                name="rule_repeat_threshold_at_least_2",
                violation_error_message=_("重复升级次数至少为2。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def title(self) -> str:
        """The title in the active UI language (the Chinese title when no English one is set)."""
        return self.title_en if self.title_en and get_language().startswith("en") else self.title_zh

    def clean(self) -> None:
        if self.repeat_threshold and not self.repeat_sanctions:
            raise ValidationError({"repeat_sanctions": _("设置了重复升级次数时必须填写升级处分。")})
        errors = {}
        for name in ("default_sanctions", "repeat_sanctions"):
            specs = getattr(self, name)
            if not isinstance(specs, list) or self.fine_amount:
                continue
            for index, spec in enumerate(specs, start=1):
                if isinstance(spec, dict) and spec.get("kind") == SanctionKind.FINE and "amount" not in spec:
                    message = _("第%(n)s项 罚款金额(元): 请填写金额,或在本条款的“罚款金额(元)”中设置。")
                    errors[name] = message % {"n": index}
                    break
        if errors:
            raise ValidationError(errors)


DEFAULT_POINTS = {
    SanctionKind.REMINDER: 0,
    SanctionKind.WARNING: 2,
    SanctionKind.SERIOUS_WARNING: 5,
    SanctionKind.PUBLIC_CRITICISM: 3,
    SanctionKind.DEMERIT: 10,
    SanctionKind.FINE: 0,
    SanctionKind.FORFEIT_MONTH: 0,
    SanctionKind.MUTE: 0,
    SanctionKind.REMOVAL: 0,
    SanctionKind.DISMISSAL_RECOMMENDED: 0,
}


def default_points() -> dict[str, int]:
    return {str(kind): points for kind, points in DEFAULT_POINTS.items()}


def validate_points_map(value) -> None:
    if not isinstance(value, dict):
        raise ValidationError(_("必须是“处分类型: 分数”的字典。"))
    for kind, points in value.items():
        if kind not in SanctionKind.values:
            raise ValidationError(_("未知的处分类型: %(k)s"), params={"k": kind})
        if not isinstance(points, int) or points < 0:
            raise ValidationError(_("%(k)s 的分数必须是不小于0的整数。"), params={"k": kind})


class CompanySettings(models.Model):
    """The company's ladder, appeal and chat-rule parameters: exactly one row (seeded).

    Numbers the regulations leave to each company ("[X]个工作日", the 12-month window…) live here;
    HR edits them in the admin and every change is audited.
    """

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    warnings_per_demerit = models.PositiveSmallIntegerField(
        _("几次警告记过一次"), default=3, validators=[MinValueValidator(1)]
    )
    demerits_for_dismissal = models.PositiveSmallIntegerField(
        _("几次记过建议辞退"), default=3, validators=[MinValueValidator(1)]
    )
    window_months = models.PositiveSmallIntegerField(
        _("累计窗口(月)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    base_monthly_score = models.PositiveSmallIntegerField(_("月度绩效基础分"), default=100)
    points_per_kind = models.JSONField(_("各处分扣分"), default=default_points, validators=[validate_points_map])
    appeal_window_workdays = models.PositiveSmallIntegerField(
        _("申诉期限(工作日)"), default=5, validators=[MinValueValidator(1)]
    )
    decision_window_workdays = models.PositiveSmallIntegerField(
        _("裁决期限(工作日)"), default=5, validators=[MinValueValidator(1)]
    )
    quiet_hours_start = models.TimeField(_("休息时间开始"), default=datetime.time(23, 30))
    quiet_hours_end = models.TimeField(_("休息时间结束"), default=datetime.time(7, 30))
    directive_answer_minutes = models.PositiveSmallIntegerField(_("领导指令回复时限(分钟)"), default=30)
    max_message_length = models.PositiveSmallIntegerField(_("单条消息最大字数"), default=200)
    # C10 刷屏 (chat detection): more than N messages, or more than N images, from one sender in M seconds
    flood_max_messages = models.PositiveSmallIntegerField(
        _("刷屏:时间窗内最多消息数"),
        default=10,
        validators=[MinValueValidator(2), MaxValueValidator(1000)],
        help_text=_("同一人在下面的秒数内发送超过此条数即为刷屏(C10)"),
    )
    flood_max_images = models.PositiveSmallIntegerField(
        _("刷屏:时间窗内最多图片数"),
        default=5,
        validators=[MinValueValidator(2), MaxValueValidator(1000)],
        help_text=_("同一人在下面的秒数内发送超过此张数图片即为过多图片(C10)"),
    )
    flood_window_seconds = models.PositiveIntegerField(
        _("刷屏:时间窗(秒)"), default=60, validators=[MinValueValidator(1), MaxValueValidator(86400)]
    )
    duplicate_window_hours = models.PositiveSmallIntegerField(
        _("疑似重复时间窗(小时)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(720)],
        help_text=_(
            "记录违规时,同一员工在此时间内(按发生时间前后计)已有同一条款、同一工作群的记录,或经过文字相同的记录,"
            "会提示可能重复;同样内容的匿名举报合并为一条。"
        ),
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("公司设置")
        verbose_name_plural = pgettext_lazy("plural", "公司设置")
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="companysettings_single_row")]

    def __str__(self) -> str:
        return str(_("公司设置"))

    @classmethod
    def load(cls) -> CompanySettings:
        """The one row (created with the defaults if a test database lacks it)."""
        return cls.objects.get_or_create(singleton=True)[0]

    def points_for(self, kind: str) -> int:
        return int(self.points_per_kind.get(kind, DEFAULT_POINTS.get(kind, 0)))


class WorkdayOverride(models.Model):
    """HR's correction of the official calendar for one date (wins over the chinesecalendar package).

    Needed for years the package does not know yet, and for company-specific days off.
    """

    date = models.DateField(_("日期"), unique=True)
    is_workday = models.BooleanField(_("是工作日"))
    note = models.CharField(_("备注"), max_length=200, blank=True)
    schedule = models.ForeignKey(
        "HolidaySchedule",
        verbose_name=_("放假安排"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="overrides",
        help_text=_("由某年的放假安排生成;重新录入该年时替换。"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("工作日调整")
        verbose_name_plural = pgettext_lazy("plural", "工作日调整")
        ordering = ["-date"]

    def __str__(self) -> str:
        return f"{self.date} {_('工作日') if self.is_workday else _('休息日')}"


class HolidaySchedule(models.Model):
    """HR entered the State Council's holiday schedule (放假安排) for a year the package does not know.

    Its dates are stored as ``WorkdayOverride`` rows (``schedule`` set); a year with a schedule counts
    as having official data (``workdays.official_data_for``). Written only by
    ``services.enter_holiday_schedule``.
    """

    year = models.PositiveSmallIntegerField(_("年份"), unique=True)
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("录入人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    entered_at = models.DateTimeField(_("录入时间"))
    source_text = models.TextField(_("原文"))

    class Meta:
        verbose_name = _("法定放假安排")
        verbose_name_plural = pgettext_lazy("plural", "法定放假安排")
        ordering = ["-year"]

    def __str__(self) -> str:
        return _("%(y)s年放假安排") % {"y": self.year}
