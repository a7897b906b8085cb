"""Portal-wide records: notification deliveries, tasks waiting for the broker, background export jobs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .choices import ExportEncoding, ExportFormat, ExportKind, ExportStatus
from .querysets import ExportJobQuerySet


class NotificationChannel(models.TextChoices):
    EMAIL = "email", _("邮件")
    WECOM = "wecom", _("企业微信群机器人")
    WECOM_APP = "wecom_app", _("企业微信应用消息")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    RETRYING = "retrying", _("重试中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")


class NotificationLog(models.Model):
    """One notification to deliver on one channel, and what happened to each delivery attempt.

    Rows are written in the transaction of the job that caused them; delivery runs later in a
    Celery task (retried with backoff), so a failing mail server or webhook never breaks that job.
    """

    channel = models.CharField(_("渠道"), max_length=10, choices=NotificationChannel.choices)
    target = models.CharField(
        _("发送目标"), max_length=500, help_text=_("邮箱地址、Webhook 地址或企业微信账号(userid)")
    )
    recipient = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("收件人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    subject = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"))
    status = models.CharField(
        _("状态"),
        max_length=10,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    # What the row tells, e.g. "sanction-confirmed:12:34:email" (event, recipient, channel): a job that
    # runs twice or a retried task records it once (unique when set; portal.notifications.record).
    event_key = models.CharField(_("事件"), max_length=200, blank=True, default="", editable=False)
    link = models.CharField(_("链接"), max_length=500, blank=True, default="", help_text=_("企业微信卡片的“详情”链接"))

    class Meta:
        verbose_name = _("通知记录")
        verbose_name_plural = pgettext_lazy("plural", "通知记录")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="sent") | models.Q(sent_at__isnull=False),
                name="notificationlog_sent_has_time",
            ),
            models.UniqueConstraint(
                fields=["event_key"], condition=~models.Q(event_key=""), name="notificationlog_one_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.target}: {self.subject}"


class PendingTask(models.Model):
    """A Celery task that could not be sent because the broker was down; sent later (portal.outbox)."""

    task_name = models.CharField(_("任务"), max_length=200)
    args = models.JSONField(_("参数"), default=list)
    kwargs = models.JSONField(_("关键字参数"), default=dict)
    key = models.CharField(_("去重键"), max_length=64, db_index=True)
    created_at = models.DateTimeField(_("记录时间"), default=timezone.now)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)

    class Meta:
        verbose_name = _("待发送任务")
        verbose_name_plural = pgettext_lazy("plural", "待发送任务")
        ordering = ["pk"]

    def __str__(self) -> str:
        return self.task_name


def export_upload_to(instance: ExportJob, filename: str) -> str:
    # Never the user's words in a path, never a guessable name: the file is served only by a view.
    return f"exports/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{instance.file_format}"


class ExportJob(models.Model):
    """One report file built in the background (违规报表 XLSX…), tracked for its progress page.

    ``params`` are the report's filters as JSON (period, department, selected ids); the rows are
    chosen again at build time from ``visible_to(created_by)``. The finished file lives under
    MEDIA_ROOT (never a public URL), is served only to its requester or HR, and is deleted by the
    cleanup task at ``expires_at`` (settings.QUNGUI_EXPORT_KEEP_HOURS after it was built).
    ``heartbeat_at`` moves with the progress: a job whose worker died is reclaimed when it goes stale.
    """

    kind = models.CharField(_("报表"), max_length=20, choices=ExportKind.choices, default=ExportKind.VIOLATIONS)
    file_format = models.CharField(_("格式"), max_length=5, choices=ExportFormat.choices)
    encoding = models.CharField(
        _("编码"), max_length=10, choices=ExportEncoding.choices, default=ExportEncoding.UTF8_BOM
    )
    params = models.JSONField(_("筛选条件"), default=dict)
    description = models.CharField(_("说明"), max_length=300)
    status = models.CharField(
        _("状态"), max_length=10, choices=ExportStatus.choices, default=ExportStatus.PENDING, db_index=True
    )
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    file = models.FileField(_("文件"), upload_to=export_upload_to, max_length=300, blank=True)
    size = models.PositiveBigIntegerField(_("文件大小"), default=0)
    error = models.TextField(_("错误"), blank=True)
    task_id = models.CharField(_("任务ID"), max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), on_delete=models.CASCADE, related_name="export_jobs"
    )
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最近进度时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    expires_at = models.DateTimeField(_("下载截止"), null=True, blank=True, db_index=True)

    objects = ExportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导出任务")
        verbose_name_plural = _("导出任务")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ExportStatus.DONE)
                | (Q(finished_at__isnull=False, expires_at__isnull=False) & ~Q(file="")),
                name="exportjob_done_has_file",
                violation_error_message=_("已完成的导出必须有文件和下载截止时间。"),
            ),
            models.CheckConstraint(
                condition=~Q(status=ExportStatus.FAILED) | ~Q(error=""),
                name="exportjob_failed_has_error",
                violation_error_message=_("失败的导出必须记录原因。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} {self.description}"

    @property
    def progress_percent(self) -> int:
        if self.status in (ExportStatus.DONE, ExportStatus.EXPIRED):
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.processed_rows * 100 // self.total_rows)

    def is_downloadable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.status == ExportStatus.DONE and bool(self.file) and self.expires_at > now


class WeComApp(models.TextChoices):
    """The WeCom secrets the portal uses: each opens its own calls (docs/wecom.md)."""

    CONTACTS = "contacts", _("通讯录同步")
    CUSTOMER = "customer", _("客户联系")
    ARCHIVE = "archive", _("会话内容存档")
    APP = "app", _("自建应用(应用消息)")


class WeComConnection(models.Model):
    """The company's WeCom connection (one row): corp id, one encrypted secret per app, which syncs
    are on, and how the last test and sync went.

    Secrets are stored encrypted (``portal.secrets``), written only through ``set_secret`` (the
    admin's write-only fields), never shown, logged or audited in clear: the audit entry says
    "secret changed". Edited by HR / IT in the admin (企业微信连接).
    """

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    enabled = models.BooleanField(_("启用"), default=False, help_text=_("关闭后不再调用企业微信接口"))
    corp_id = models.CharField(_("企业ID"), max_length=64, blank=True, help_text=_("管理后台 → 我的企业 → 企业ID(ww…)"))
    base_url = models.URLField(
        _("接口地址"),
        max_length=300,
        default="https://qyapi.weixin.qq.com/cgi-bin",
        help_text=_("一般不用改;私有化部署或测试服务器时填写其 cgi-bin 地址"),
    )
    agent_id = models.CharField(_("自建应用 AgentId"), max_length=20, blank=True)
    contacts_secret_enc = models.TextField(blank=True, editable=False)
    customer_secret_enc = models.TextField(blank=True, editable=False)
    archive_secret_enc = models.TextField(blank=True, editable=False)
    app_secret_enc = models.TextField(blank=True, editable=False)
    contacts_enabled = models.BooleanField(_("同步组织架构"), default=False)
    customer_enabled = models.BooleanField(_("同步客户群"), default=False)
    archive_enabled = models.BooleanField(_("同步会话存档"), default=False)
    last_test_at = models.DateTimeField(_("最近测试时间"), null=True, blank=True, editable=False)
    last_test_result = models.TextField(_("最近测试结果"), blank=True, editable=False)
    last_sync_at = models.DateTimeField(_("最近同步时间"), null=True, blank=True, editable=False)
    last_sync_status = models.CharField(_("最近同步状态"), max_length=20, blank=True, editable=False)
    last_sync_message = models.TextField(_("最近同步说明"), blank=True, editable=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    SECRET_FIELDS = {app: f"{app}_secret_enc" for app in WeComApp.values}

    class Meta:
        verbose_name = _("企业微信连接")
        verbose_name_plural = pgettext_lazy("plural", "企业微信连接")

    def __str__(self) -> str:
        return str(_("企业微信连接")) + (f" {self.corp_id}" if self.corp_id else "")

    def __repr__(self) -> str:  # never the secrets, not even encrypted
        return f"<WeComConnection corp_id={self.corp_id!r} enabled={self.enabled}>"

    @classmethod
    def load(cls) -> WeComConnection:
        return cls.objects.get_or_create(singleton=True)[0]

    def has_secret(self, app: str) -> bool:
        return bool(getattr(self, self.SECRET_FIELDS[app]))

    def set_secret(self, app: str, plain: str) -> None:
        """Replace one app's secret (empty: remove it). Saving is the caller's (a service)."""
        from .secrets import encrypt

        setattr(self, self.SECRET_FIELDS[app], encrypt(plain) if plain else "")

    def secret(self, app: str) -> str:
        from .secrets import decrypt

        token = getattr(self, self.SECRET_FIELDS[app])
        return decrypt(token) if token else ""
