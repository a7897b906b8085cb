"""The message store: one row per chat message of a work group, whatever platform it came from.

Detection (later) reads it set-based: indexes on (group, sent_at), (group, kind, sent_at) and
(employee, sent_at). A message's body (``text``, ``link_*``, ``extra``) is personal data: purged
after the HR-set retention (``RosterSettings.chat_retention_days``), the row and its facts kept.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..choices import ImportStatus, MessageKind, Platform


def chat_upload_to(instance: ChatImport, filename: str) -> str:
    return f"imports/chat/{filename}"


class ChatImportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """HR and auditors: every chat import; anyone else: none (imports are HR's)."""
        from portal.scoping import scope_for

        return self.all() if scope_for(user).everything else self.none()


class ChatMessageQuerySet(models.QuerySet):
    def visible_to(self, user):
        """HR and auditors: all; department heads and group admins: their groups' messages only."""
        from portal.scoping import scope_for

        from ..models import ChatGroup

        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(group__in=ChatGroup.objects.visible_to(user))


class ChatImport(models.Model):
    """One chat-export upload: its file, the preview (chat, range, senders), the outcome."""

    platform = models.CharField(_("平台"), max_length=10, choices=Platform.choices)
    group = models.ForeignKey(
        "groups.ChatGroup", verbose_name=_("群"), on_delete=models.PROTECT, related_name="chat_imports"
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED, db_index=True
    )
    file = models.FileField(_("文件"), upload_to=chat_upload_to, max_length=500, blank=True)
    original_name = models.CharField(_("原文件名"), max_length=255)
    size = models.PositiveBigIntegerField(_("文件大小"), default=0)
    encoding = models.CharField(_("编码"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("导入人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    message_count = models.PositiveIntegerField(_("消息数"), default=0)
    created_count = models.PositiveIntegerField(_("新增消息数"), default=0)
    first_sent_at = models.DateTimeField(_("最早消息时间"), null=True, blank=True)
    last_sent_at = models.DateTimeField(_("最晚消息时间"), null=True, blank=True)
    matched_senders = models.PositiveIntegerField(_("已匹配发送人"), default=0)
    unmatched_senders = models.PositiveIntegerField(_("未匹配发送人"), default=0)
    preview = models.JSONField(_("预览"), default=dict, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    # A large upload is read and written by a worker (groups.tasks): its progress and liveness.
    started_at = models.DateTimeField(_("开始处理时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("最近进度时间"), null=True, blank=True)
    processed_lines = models.PositiveBigIntegerField(_("已读行数"), default=0)
    total_lines = models.PositiveBigIntegerField(_("总行数"), default=0)
    attempts = models.PositiveSmallIntegerField(_("处理次数"), default=0)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ChatImportQuerySet.as_manager()

    class Meta:
        verbose_name = _("聊天记录导入")
        verbose_name_plural = pgettext_lazy("plural", "聊天记录导入")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_sent_at__isnull=True)
                | Q(last_sent_at__isnull=True)
                | Q(first_sent_at__lte=models.F("last_sent_at")),
                name="chatimport_range_ordered",
            ),
            models.CheckConstraint(
                condition=Q(created_count__lte=models.F("message_count")), name="chatimport_created_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.original_name}"

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_lines:
            return 0
        return min(100, int(self.processed_lines * 100 / self.total_lines))


class ChatMessage(models.Model):
    """One message of one chat group. ``natural_key`` is unique per group and platform:
    WeCom ``msgid``; WeChatMsg ``TalkerId:localId``; QQ a hash of time, sender and text with a
    sequence number for identical repeats (QQ exports carry no message id)."""

    group = models.ForeignKey(
        "groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="chat_messages"
    )
    platform = models.CharField(_("平台"), max_length=10, choices=Platform.choices)
    natural_key = models.CharField(_("消息标识"), max_length=200)
    chat_import = models.ForeignKey(
        ChatImport,
        verbose_name=_("导入记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    sender_platform_id = models.CharField(_("发送人平台账号"), max_length=200, blank=True)
    sender_name = models.CharField(
        _("发送人显示名"), max_length=200, blank=True, help_text=_("导出文件中的名字(不一定是群昵称)")
    )
    membership = models.ForeignKey(
        "groups.Membership",
        verbose_name=_("群成员"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    employee = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("员工"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="chat_messages",
    )
    sent_at = models.DateTimeField(_("发送时间"))
    kind = models.CharField(_("消息类型"), max_length=12, choices=MessageKind.choices)
    text = models.TextField(_("内容"), null=True, blank=True)
    link_url = models.TextField(_("链接地址"), null=True, blank=True)
    link_title = models.CharField(_("链接标题"), max_length=500, null=True, blank=True)
    mentions = models.JSONField(_("@提及"), default=list, blank=True)
    mentions_all = models.BooleanField(_("@所有人"), default=False)
    recalled = models.BooleanField(_("已撤回"), default=False)
    recalled_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    recalls = models.CharField(
        _("撤回的消息"), max_length=200, blank=True, help_text=_("撤回事件:被撤回消息的消息标识")
    )
    extra = models.JSONField(_("其他字段"), default=dict, blank=True)
    purged_at = models.DateTimeField(_("内容清除时间"), null=True, blank=True)
    imported_at = models.DateTimeField(_("导入时间"), auto_now_add=True)

    objects = ChatMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("聊天消息")
        verbose_name_plural = pgettext_lazy("plural", "聊天消息")
        ordering = ["group_id", "sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "platform", "natural_key"], name="chatmessage_unique_natural_key_per_group"
            ),
            models.CheckConstraint(condition=~Q(natural_key=""), name="chatmessage_natural_key_not_blank"),
            models.CheckConstraint(
                condition=Q(recalled=True) | Q(recalled_at__isnull=True), name="chatmessage_recalled_at_only_recalled"
            ),
            models.CheckConstraint(
                condition=Q(kind="recall") | Q(recalls=""), name="chatmessage_recalls_only_on_recall"
            ),
            models.CheckConstraint(
                condition=Q(purged_at__isnull=True)
                | Q(text__isnull=True, link_url__isnull=True, link_title__isnull=True),
                name="chatmessage_purged_has_no_body",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "sent_at"], name="chatmessage_group_time"),
            models.Index(fields=["group", "kind", "sent_at"], name="chatmessage_group_kind_time"),
            models.Index(fields=["employee", "group", "sent_at"], name="chatmessage_employee_group"),
            models.Index(fields=["group", "sender_platform_id", "sent_at"], name="chatmessage_group_sender"),
            models.Index(fields=["sent_at"], name="chatmessage_unpurged", condition=Q(purged_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.sender_name or self.sender_platform_id} {self.sent_at:%Y-%m-%d %H:%M:%S}"
