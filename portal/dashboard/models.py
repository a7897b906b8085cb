"""The dashboard's rollup tables (see ``portal.dashboard.rollups`` for how they are kept current)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.db.models import ExpressionWrapper, F, Q, Value
from django.db.models.functions import Mod
from django.utils.translation import gettext_lazy as _

from portal.scoping import scope_for


class ViolationCellQuerySet(models.QuerySet):
    def visible_to(self, user) -> ViolationCellQuerySet:
        scope = scope_for(user)
        return self.all() if scope.everything else self.filter(department_id__in=scope.dept_ids)


class ViolationCell(models.Model):
    """Violations of one month (company time zone), department, rule category and status."""

    month = models.DateField(_("月份"))
    department = models.ForeignKey(
        "groups.Department", verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+"
    )
    category = models.CharField(_("条款类别"), max_length=20)
    status = models.CharField(_("状态"), max_length=12)
    count = models.PositiveIntegerField(_("违规数"))
    fines = models.DecimalField(_("罚款(元)"), max_digits=14, decimal_places=2, default=Decimal("0"))
    points = models.PositiveIntegerField(_("扣绩效分"), default=0)

    objects = ViolationCellQuerySet.as_manager()

    class Meta:
        db_table = "portal_violationcell"  # created by the portal app before the dashboard was its own app
        verbose_name = _("违规月度汇总")
        verbose_name_plural = _("违规月度汇总")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "department", "category", "status"], name="violationcell_one_per_cell"
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.department_id} {self.category} {self.status}: {self.count}"


class GroupMonthCellQuerySet(models.QuerySet):
    def visible_to(self, user) -> GroupMonthCellQuerySet:
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(Q(group__department_id__in=scope.dept_ids) | Q(group_id__in=scope.group_ids))


class GroupMonthCell(models.Model):
    """Standing violations recorded in one group in one month."""

    month = models.DateField(_("月份"))
    group = models.ForeignKey("groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="+")
    count = models.PositiveIntegerField(_("违规数"))

    objects = GroupMonthCellQuerySet.as_manager()

    class Meta:
        db_table = "portal_groupmonthcell"  # created by the portal app before the dashboard was its own app
        verbose_name = _("群月度违规汇总")
        verbose_name_plural = _("群月度违规汇总")
        constraints = [models.UniqueConstraint(fields=["month", "group"], name="groupmonthcell_one_per_cell")]
        indexes = [models.Index(fields=["month", "-count"], name="groupmonthcell_month_count")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.group_id}: {self.count}"


class LadderStandingQuerySet(models.QuerySet):
    def visible_to(self, user) -> LadderStandingQuerySet:
        """HR and auditors: all; department heads: their subtrees (a dashboard number, heads' only)."""
        scope = scope_for(user)
        return self.all() if scope.everything else self.filter(department_id__in=scope.dept_ids)

    def at_risk(self, warnings_per_demerit: int, demerits_for_dismissal: int) -> LadderStandingQuerySet:
        """One warning short of a demerit, or one demerit short of a dismissal recommendation, for the
        ladder settings given (compared at read time, so a change of the counts needs no refresh)."""
        return self.annotate(
            near_demerit=ExpressionWrapper(
                Q(warnings__gt=0) & Q(w_left=warnings_per_demerit - 1), output_field=models.BooleanField()
            ),
            near_dismissal=ExpressionWrapper(
                Q(demerits__gt=0) & Q(d_left=demerits_for_dismissal - 1), output_field=models.BooleanField()
            ),
        ).filter(Q(near_demerit=True) | Q(near_dismissal=True))

    def with_remainders(self, warnings_per_demerit: int, demerits_for_dismissal: int) -> LadderStandingQuerySet:
        # integer remainders: Mod's default numeric output compared every row's remainder as numeric
        return self.annotate(
            w_left=Mod(F("warnings"), Value(warnings_per_demerit), output_field=models.IntegerField()),
            d_left=Mod(F("demerits"), Value(demerits_for_dismissal), output_field=models.IntegerField()),
        )


class LadderStanding(models.Model):
    """Where one active employee stands on the escalation ladder (rows only for those with any count).

    ``warnings``: active direct warnings, ``demerits``: active demerits (direct and derived), both
    counted over the company's window ending at ``refreshed_at``. Whether one more warning makes a
    demerit (or one more demerit a dismissal recommendation) is decided when reading
    (``LadderStandingQuerySet.at_risk``) with the current ladder settings.
    """

    employee = models.OneToOneField(
        "groups.Employee",
        verbose_name=_("员工"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="ladder_standing",
    )
    department = models.ForeignKey(
        "groups.Department", verbose_name=_("部门"), on_delete=models.CASCADE, related_name="+"
    )
    warnings = models.PositiveIntegerField(_("警告"), default=0)
    demerits = models.PositiveIntegerField(_("记过"), default=0)
    refreshed_at = models.DateTimeField(_("统计时间"))

    objects = LadderStandingQuerySet.as_manager()

    class Meta:
        db_table = "portal_ladderstanding"  # created by the portal app before the dashboard was its own app
        verbose_name = _("升级阶梯状态")
        verbose_name_plural = _("升级阶梯状态")

    def __str__(self) -> str:
        return f"{self.employee_id}: {self.warnings}/{self.demerits}"


class GroupCellQuerySet(models.QuerySet):
    def visible_to(self, user):
        """HR and auditors: all; otherwise the groups of the user's subtrees and their own groups."""
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(Q(group__department_id__in=scope.dept_ids) | Q(group_id__in=scope.group_ids))


class GroupRosterCell(models.Model):
    """One chat group's open memberships: all, departed staff, outsiders where none are admitted.

    Every group has a row (zero counts included), so ``refreshed_at`` tells the age of every number
    the dashboard sums from it. A department's numbers are the sum over the groups of its subtree.
    """

    group = models.OneToOneField(
        "groups.ChatGroup", verbose_name=_("群"), primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    members = models.PositiveIntegerField(_("成员"), default=0)
    departed = models.PositiveIntegerField(_("离职仍在群"), default=0)
    outsiders = models.PositiveIntegerField(_("非本公司人员"), default=0)
    refreshed_at = models.DateTimeField(_("统计时间"))

    objects = GroupCellQuerySet.as_manager()

    class Meta:
        verbose_name = _("群成员汇总")
        verbose_name_plural = _("群成员汇总")

    def __str__(self) -> str:
        return f"{self.group_id}: {self.members}/{self.departed}/{self.outsiders}"


class GroupFindingCell(models.Model):
    """Open roster findings of one kind in one chat group (rows only for counts above zero)."""

    group = models.ForeignKey("groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("问题类型"), max_length=30)
    count = models.PositiveIntegerField(_("问题数"))

    objects = GroupCellQuerySet.as_manager()

    class Meta:
        verbose_name = _("群花名册问题汇总")
        verbose_name_plural = _("群花名册问题汇总")
        constraints = [models.UniqueConstraint(fields=["group", "kind"], name="groupfindingcell_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.group_id} {self.kind}: {self.count}"
