"""Chat detection's records: each hit of a detector (``Detection``), the runs that found them
(``DetectionRun``, each split into ``DetectionChunk``s of groups) and a group's own quiet hours
(``GroupDetectionSettings``).

A detection is stored once per ``(detector, key)``: a rerun, an overlapping window or a re-imported
export finds the same key and adds nothing. Its evidence is kept twice: a link to the live message
rows (``messages``) and a snapshot of them with their context (``excerpt``: sender, time, text),
which outlives the purge of the message bodies after the chat retention (groups.chat.retention).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from portal.scoping import scope_for


class RunStatus(models.TextChoices):
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class ChunkStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("运行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


class DetectionRunQuerySet(models.QuerySet):
    def visible_to(self, user) -> DetectionRunQuerySet:
        """Runs are HR's and the auditors' (they span every group)."""
        return self.all() if scope_for(user).everything else self.none()


class DetectionQuerySet(models.QuerySet):
    def visible_to(self, user) -> DetectionQuerySet:
        """HR and auditors: all; others: the detections of the groups they may see (never their own
        suspicion: that follows the violation's scope, see ``Violation.objects.visible_to``)."""
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        from groups.models import ChatGroup

        from .records import Violation

        own_groups = Q(group__in=ChatGroup.objects.visible_to(user).values("pk"))
        mine = Q(employee_id=scope.employee_id) if scope.employee_id else Q(pk__in=[])
        visible_violations = Violation.objects.visible_to(user).values("pk")
        return self.filter((own_groups & ~mine) | Q(violation__in=visible_violations)).distinct()


class DetectionRun(models.Model):
    """One run of the detectors over a window of messages: what it looked at, what it found, how it ended.

    Progress and audit record: ``counts`` per detector (hits seen, new detections, suspicions made),
    updated after every batch, so a run killed half-way shows how far it got (its status stays
    运行中; the next run covers the same window again and adds only what is missing)."""

    since = models.DateTimeField(_("起始时间"), null=True, blank=True)
    until = models.DateTimeField(_("截止时间"), null=True, blank=True)
    group_ids = models.JSONField(_("群"), null=True, blank=True, help_text=_("空为全部群"))
    trigger = models.CharField(_("触发方式"), max_length=20, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    counts = models.JSONField(_("各检测项计数"), default=dict, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    detectors = models.JSONField(_("检测项"), default=list, blank=True, help_text=_("空为全部检测项"))
    as_of = models.DateTimeField(
        _("截止判断时刻"), null=True, blank=True, help_text=_("未到期限的指示、通知在此时刻之后才算未回复")
    )

    objects = DetectionRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("检测运行")
        verbose_name_plural = pgettext_lazy("plural", "检测运行")
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{_('检测运行')} #{self.pk} {self.get_status_display()}"

    @property
    def total_new(self) -> int:
        return sum(int(c.get("new", 0)) for c in (self.counts or {}).values())


class DetectionChunk(models.Model):
    """One chunk of groups of a run (``services.detection.GROUPS_PER_CHUNK``), run by one Celery task
    (``tasks.detect_chunk_task``) or in turn in-process. The window's start, end and "now" are the
    run's unless the chunk has its own (the nightly pass starts each chunk at its earliest new
    message). ``counts`` is updated after each stored batch; when the last chunk of a run ends, the
    run's counts, errors and status are summed from its chunks (``finish_chunk``)."""

    run = models.ForeignKey(DetectionRun, verbose_name=_("检测运行"), on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField(_("序号"))
    group_ids = models.JSONField(_("群"), default=list)
    since = models.DateTimeField(_("起始时间"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.PENDING)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    worker = models.CharField(_("执行节点"), max_length=200, blank=True, help_text=_("最近一次运行它的 Celery 节点"))
    counts = models.JSONField(_("各检测项计数"), default=dict, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("检测分块")
        verbose_name_plural = pgettext_lazy("plural", "检测分块")
        ordering = ["run", "index"]
        constraints = [
            models.UniqueConstraint(fields=["run", "index"], name="detection_chunk_unique_index"),
        ]

    def __str__(self) -> str:
        return f"{self.run} · {self.index + 1}"


class Detection(models.Model):
    """One hit of one detector: a suspected breach by one sender in one group, with its evidence.

    ``violation``: the suspected violation (待核实) made from it; None when the sender is not matched
    to an employee (shown, never made a violation). ``excerpt``: the triggering messages and their
    context as they read when detected: ``[{"id", "sender", "sender_id", "sent_at", "kind", "text",
    "trigger"}]`` — kept after the message bodies are purged."""

    detector = models.CharField(_("检测项"), max_length=40)
    key = models.CharField(_("标识"), max_length=255)
    rule = models.ForeignKey("violations.Rule", verbose_name=_("条款"), on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(  # indexed by detection_group_time (group, occurred_at)
        "groups.ChatGroup",
        verbose_name=_("工作群"),
        on_delete=models.CASCADE,
        related_name="detections",
        db_index=False,
    )
    employee = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("员工"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="detections",
        help_text=_("发送人未匹配到员工时为空"),
    )
    sender_platform_id = models.CharField(_("发送人平台账号"), max_length=200, blank=True)
    sender_name = models.CharField(_("发送人显示名"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("发生时间"))
    reason = models.TextField(_("检测理由"))
    details = models.JSONField(_("详情"), default=dict, blank=True)
    # The triggering messages' ids, the first first (no link table: its foreign key locked each cited
    # message row at every commit, 6% of a detection run; the excerpt is the evidence, and outlives
    # the messages' bodies).
    message_ids = models.JSONField(_("触发消息"), default=list, blank=True)
    excerpt = models.JSONField(_("证据摘录"), default=list, blank=True)
    violation = models.OneToOneField(
        "violations.Violation",
        verbose_name=_("违规记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="detection",
    )
    run = models.ForeignKey(
        DetectionRun, verbose_name=_("检测运行"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("检测时间"), auto_now_add=True)
    excerpt_purged_at = models.DateTimeField(
        _("摘录清除时间"),
        null=True,
        blank=True,
        help_text=_("未成案(发送人未匹配)或不予处理的检测,其摘录中的消息内容按聊天记录保留期限清除"),
    )

    objects = DetectionQuerySet.as_manager()

    class Meta:
        verbose_name = _("检测结果")
        verbose_name_plural = pgettext_lazy("plural", "检测结果")
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["detector", "key"],
                name="detection_unique_key_per_detector",
                violation_error_message=_("该检测结果已存在。"),
            ),
        ]
        indexes = [
            models.Index(fields=["group", "occurred_at"], name="detection_group_time"),
        ]

    def __str__(self) -> str:
        return f"{self.detector} · {self.sender_name or self.sender_platform_id} · {self.occurred_at:%Y-%m-%d %H:%M}"


class GroupDetectionSettings(models.Model):
    """A group's own quiet hours (休息时间), overriding the company's (公司设置) for B06.

    Both times empty: the company's apply. ``quiet_hours_off``: this group has no quiet hours
    (a 24-hour operations group)."""

    group = models.OneToOneField(
        "groups.ChatGroup", verbose_name=_("工作群"), on_delete=models.CASCADE, related_name="detection_settings"
    )
    quiet_hours_start = models.TimeField(_("休息时间开始"), null=True, blank=True)
    quiet_hours_end = models.TimeField(_("休息时间结束"), null=True, blank=True)
    quiet_hours_off = models.BooleanField(_("本群不设休息时间"), default=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("群检测设置")
        verbose_name_plural = pgettext_lazy("plural", "群检测设置")
        constraints = [
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True, quiet_hours_end__isnull=True)
                | Q(quiet_hours_start__isnull=False, quiet_hours_end__isnull=False),
                name="groupdetection_quiet_hours_both_or_neither",
                violation_error_message=_("休息时间的开始和结束须同时填写或同时留空。"),
            ),
            models.CheckConstraint(
                condition=Q(quiet_hours_start__isnull=True) | ~Q(quiet_hours_start=models.F("quiet_hours_end")),
                name="groupdetection_quiet_hours_not_empty",
                violation_error_message=_("休息时间的开始和结束不能相同。"),
            ),
        ]

    def __str__(self) -> str:
        return str(self.group)
