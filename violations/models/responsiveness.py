"""Who is a leader in which group, and how directives (R01) and notices (R03) are recognised.

The regulation: a leader's directive in a group is answered within 30 minutes of working time
(``CompanySettings.directive_answer_minutes``); a notice that asks for "收到" is acknowledged by the
end of the working day. HR sets the working hours, the phrases and the leaders here; the detectors
(``violations/detection/directives.py``, ``acknowledgements.py``) read them on every run.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

MAX_PHRASE_LENGTH = 50
MAX_PHRASES = 200

# Small, sensible defaults drawn from how the regulations word them; HR edits every list.
DEFAULT_DIRECTIVE_PHRASES = ["请各位", "请大家", "务必", "今天下班前", "今日下班前", "尽快落实", "立即处理", "马上处理"]
DEFAULT_ACK_REQUEST_PHRASES = [
    "收到请回复", "收到请回", "收到回复", "回复收到", "请回复", "请确认", "回复1", "收到请扣1", "请扣1",
]  # fmt: skip
DEFAULT_ACK_PHRASES = ["收到", "好的", "好", "已阅", "明白", "了解", "知道了", "执行", "马上执行", "1", "OK"]


def default_directive_phrases() -> list[str]:
    return list(DEFAULT_DIRECTIVE_PHRASES)


def default_ack_request_phrases() -> list[str]:
    return list(DEFAULT_ACK_REQUEST_PHRASES)


def default_ack_phrases() -> list[str]:
    return list(DEFAULT_ACK_PHRASES)


def validate_phrases(value) -> None:
    """A list of distinct, non-blank strings of at most 50 characters (at most 200 of them)."""
    if not isinstance(value, list):
        raise ValidationError(_("必须是短语列表。"))
    if len(value) > MAX_PHRASES:
        raise ValidationError(_("最多 %(n)s 个短语。"), params={"n": MAX_PHRASES})
    seen: set[str] = set()
    for index, phrase in enumerate(value, start=1):
        if not isinstance(phrase, str) or not phrase.strip():
            raise ValidationError(_("第%(n)s个短语: 不能为空。"), params={"n": index})
        if phrase != phrase.strip():
            raise ValidationError(_("第%(n)s个短语: 首尾不能有空格。"), params={"n": index})
        if len(phrase) > MAX_PHRASE_LENGTH:
            raise ValidationError(
                _("第%(n)s个短语: 不能超过 %(max)s 个字。"), params={"n": index, "max": MAX_PHRASE_LENGTH}
            )
        if phrase.casefold() in seen:
            raise ValidationError(_("第%(n)s个短语“%(p)s”重复。"), params={"n": index, "p": phrase})
        seen.add(phrase.casefold())


class DirectiveSettings(models.Model):
    """Working hours, phrases and leader roles for R01 (directives) and R03 (acknowledgements): one row.

    Working time is ``work_day_start``–``work_day_end`` on China's working days
    (``violations.workdays``); the answer deadline itself is ``CompanySettings.directive_answer_minutes``.
    """

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    work_day_start = models.TimeField(_("上班时间"), default=datetime.time(9, 0))
    work_day_end = models.TimeField(_("下班时间"), default=datetime.time(18, 0))
    directive_phrases = models.JSONField(
        _("指令短语"),
        default=default_directive_phrases,
        blank=True,
        validators=[validate_phrases],
        help_text=_("领导的消息含其中任一短语即视为指令(即使没有@任何人)。"),
    )
    ack_request_phrases = models.JSONField(
        _("要求回复确认的短语"),
        default=default_ack_request_phrases,
        blank=True,
        validators=[validate_phrases],
        help_text=_("领导或群管理员的消息含其中任一短语即视为须回复确认的通知。"),
    )
    ack_phrases = models.JSONField(
        _("确认短语"),
        default=default_ack_phrases,
        blank=True,
        validators=[validate_phrases],
        help_text=_(
            "回复含其中任一短语即视为确认;只有一个字或全为英文数字的短语(如 1、OK)须整条回复与之相同(不区分大小写)。"
        ),
    )
    owner_is_leader = models.BooleanField(_("群主视为领导"), default=True)
    department_head_is_leader = models.BooleanField(_("群所属部门负责人视为领导"), default=True)
    admins_send_notices = models.BooleanField(
        _("群管理员可发通知"), default=True, help_text=_("群管理员发出的要求回复确认的消息也按通知检查(R03)。")
    )
    any_reply_acknowledges = models.BooleanField(
        _("任何回复都算确认"), default=False, help_text=_("不勾选时,只有含确认短语的回复才算确认通知。")
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("指令与通知设置")
        verbose_name_plural = pgettext_lazy("plural", "指令与通知设置")
        constraints = [
            models.CheckConstraint(condition=Q(singleton=True), name="directivesettings_single_row"),
            models.CheckConstraint(
                condition=Q(work_day_start__lt=F("work_day_end")),
                name="directivesettings_day_start_before_end",
                violation_error_message=_("上班时间必须早于下班时间。"),
            ),
        ]

    def __str__(self) -> str:
        return str(_("指令与通知设置"))

    @classmethod
    def load(cls) -> DirectiveSettings:
        """The one row (created with the defaults if a test database lacks it)."""
        return cls.objects.get_or_create(singleton=True)[0]


class GroupLeader(models.Model):
    """An employee HR names as a leader of one group, or of every group (``group`` empty).

    Besides these, the group's owner and its department's head count as leaders when
    ``DirectiveSettings`` says so.
    """

    group = models.ForeignKey(
        "groups.ChatGroup",
        verbose_name=_("群"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="named_leaders",
        help_text=_("为空表示在所有群中都是领导"),
    )
    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), on_delete=models.CASCADE, related_name="leader_entries"
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("群领导")
        verbose_name_plural = pgettext_lazy("plural", "群领导")
        ordering = ["group_id", "employee_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "employee"],
                condition=Q(group__isnull=False),
                name="groupleader_unique_per_group",
                violation_error_message=_("该员工已是此群的领导。"),
            ),
            models.UniqueConstraint(
                fields=["employee"],
                condition=Q(group__isnull=True),
                name="groupleader_unique_company_wide",
                violation_error_message=_("该员工已是所有群的领导。"),
            ),
        ]

    def __str__(self) -> str:
        where = self.group.name if self.group is not None else _("所有群")
        return f"{self.employee.name} @ {where}"
