"""What the WeCom sync keeps between runs: the runs themselves, each WeCom chat's state (member_version,
the run that settled it, its last error), the directory as WeCom last showed it, the archive's seq,
and the directory's mismatches with the HR roster.

Re-exported by ``groups.models``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..choices import DirectoryFindingKind, FindingStatus, SyncPhase, SyncStatus, SyncTrigger, WeComChatKind


class WeComSyncRunQuerySet(models.QuerySet):
    def unfinished(self):
        return self.filter(status__in=[SyncStatus.RUNNING, SyncStatus.INTERRUPTED])

    def visible_to(self, user):
        """HR and auditors only: a run lists every group of the company."""
        from portal.scoping import scope_for

        return self.all() if scope_for(user).everything else self.none()


class WeComSyncRun(models.Model):
    """One WeCom sync (企业微信同步): like an import job, with its progress, counts and errors.

    A run is resumable: ``list_cursor`` is the checkpoint of the group listing (saved with the page's
    rows, in one transaction), and each chat's ``attempted_run`` is its done mark. A run killed
    half-way is picked up by the next task (or the next day's) where it stopped.
    """

    status = models.CharField(
        _("状态"), max_length=12, choices=SyncStatus.choices, default=SyncStatus.RUNNING, db_index=True
    )
    trigger = models.CharField(_("触发方式"), max_length=10, choices=SyncTrigger.choices, default=SyncTrigger.SCHEDULE)
    phase = models.CharField(_("阶段"), max_length=10, choices=SyncPhase.choices, default=SyncPhase.ORG)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), null=True, blank=True, on_delete=models.SET_NULL
    )
    import_job = models.ForeignKey(
        "groups.ImportJob",
        verbose_name=_("导入记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("同步写入的群成员名单,与文件导入记在同一处"),
    )
    list_cursor = models.CharField(_("分页游标"), max_length=500, blank=True, editable=False)
    listed_complete = models.BooleanField(_("群列表已读完"), default=False, editable=False)
    total_groups = models.PositiveIntegerField(_("群总数"), default=0)
    done_groups = models.PositiveIntegerField(_("已处理群数"), default=0)
    counts = models.JSONField(_("计数"), default=dict, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    heartbeat_at = models.DateTimeField(_("最近进展"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    task_id = models.CharField(_("任务ID"), max_length=100, blank=True)
    # True while running or interrupted, NULL once finished: unique, so one unfinished run at a time
    # (a second 立即同步 resumes it instead of starting a twin).
    unfinished = models.BooleanField(null=True, default=True, editable=False)

    objects = WeComSyncRunQuerySet.as_manager()

    class Meta:
        verbose_name = _("企业微信同步")
        verbose_name_plural = pgettext_lazy("plural", "企业微信同步")
        ordering = ["-started_at", "-id"]
        constraints = [
            # One unfinished run at a time: a second "sync now" resumes it instead of starting a twin.
            models.UniqueConstraint(
                fields=["unfinished"],
                name="wecomsyncrun_one_unfinished",
                violation_error_message=_("已有一个未完成的企业微信同步。"),
            ),
            models.CheckConstraint(
                condition=Q(unfinished=True, status__in=["running", "interrupted"])
                | Q(unfinished__isnull=True) & ~Q(status__in=["running", "interrupted"]),
                name="wecomsyncrun_unfinished_flag",
            ),
            models.CheckConstraint(
                condition=Q(done_groups__lte=models.F("total_groups")) | Q(total_groups=0),
                name="wecomsyncrun_progress_within_total",
            ),
        ]

    def __str__(self) -> str:
        started = timezone.localtime(self.started_at) if self.started_at else None
        return (
            f"{_('企业微信同步')} #{self.pk} {started:%Y-%m-%d %H:%M}" if started else f"{_('企业微信同步')} #{self.pk}"
        )

    @property
    def progress_percent(self) -> int:
        if self.status == SyncStatus.DONE or self.status == SyncStatus.PARTIAL:
            return 100
        return min(100, int(self.done_groups * 100 / self.total_groups)) if self.total_groups else 0


class WeComChat(models.Model):
    """One WeCom chat the sync knows: a customer group (listed by groupchat/list) or an internal group
    (seen by the chat archive), and the run marks that make a run resumable. The member_version of
    the last snapshot is the group's (``ChatGroup.wecom_member_version``)."""

    chat_id = models.CharField(_("企业微信群ID"), max_length=200, unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=WeComChatKind.choices, default=WeComChatKind.CUSTOMER)
    group = models.ForeignKey(
        "groups.ChatGroup",
        verbose_name=_("工作群"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wecom_chats",
    )
    list_status = models.PositiveSmallIntegerField(
        _("群状态"), default=0, help_text=_("0 正常,1 离职待继承,2 离职继承中,3 离职继承完成")
    )
    listed_run = models.ForeignKey(
        WeComSyncRun, verbose_name=_("最近列出"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attempted_run = models.ForeignKey(
        WeComSyncRun, verbose_name=_("最近处理"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    synced_at = models.DateTimeField(_("名单同步时间"), null=True, blank=True)
    failed_at = models.DateTimeField(_("最近失败时间"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("企业微信群")
        verbose_name_plural = pgettext_lazy("plural", "企业微信群")
        ordering = ["chat_id"]
        indexes = [models.Index(fields=["listed_run", "attempted_run"], name="wecomchat_run_marks")]

    def __str__(self) -> str:
        return self.chat_id


class WeComUser(models.Model):
    """A member of the company's WeCom directory as the last organisation sync saw them."""

    userid = models.CharField(_("企业微信账号"), max_length=100, unique=True)
    name = models.CharField(_("姓名"), max_length=100, blank=True)
    status = models.PositiveSmallIntegerField(
        _("激活状态"), default=1, help_text=_("1 已激活,2 已禁用,4 未激活,5 退出企业")
    )
    department_path = models.CharField(_("部门"), max_length=1000, blank=True)
    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    seen_at = models.DateTimeField(_("同步时间"))

    class Meta:
        verbose_name = _("企业微信通讯录成员")
        verbose_name_plural = pgettext_lazy("plural", "企业微信通讯录成员")
        ordering = ["userid"]

    def __str__(self) -> str:
        return f"{self.name or self.userid}({self.userid})"


class DirectoryFinding(models.Model):
    """A mismatch between the WeCom directory and the HR roster, found by an organisation sync.

    Kept apart from RosterFinding, which belongs to a chat group (its per-group rollups and notices
    read the group): these concern a person, not a group. A rerun finds an open one again; one that
    no longer holds is resolved.
    """

    kind = models.CharField(_("类型"), max_length=20, choices=DirectoryFindingKind.choices)
    userid = models.CharField(_("企业微信账号"), max_length=100)
    employee = models.ForeignKey(
        "groups.Employee", verbose_name=_("员工"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    detail = models.CharField(_("说明"), max_length=300, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    first_seen_at = models.DateTimeField(_("首次发现"))
    last_seen_at = models.DateTimeField(_("最近发现"))
    resolved_at = models.DateTimeField(_("解决时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("通讯录核查结果")
        verbose_name_plural = pgettext_lazy("plural", "通讯录核查结果")
        ordering = ["-first_seen_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "userid"],
                condition=Q(status="open"),
                name="directoryfinding_one_open_per_user",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False), name="directoryfinding_closed_has_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.userid}"


class WeComArchiveState(models.Model):
    """The chat archive's position: the last ``seq`` imported (GetChatData resumes after it)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    seq = models.BigIntegerField(_("已导入到 seq"), default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会话存档进度")
        verbose_name_plural = pgettext_lazy("plural", "会话存档进度")
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="wecomarchivestate_single_row")]

    def __str__(self) -> str:
        return f"seq {self.seq}"

    @classmethod
    def load(cls) -> WeComArchiveState:
        return cls.objects.get_or_create(singleton=True)[0]
