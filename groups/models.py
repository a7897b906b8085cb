"""Organisation and chat groups: departments, employees, chat groups, memberships, roster imports."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from treebeard.mp_tree import MP_Node, MP_NodeManager, MP_NodeQuerySet

from .choices import EmployeeStatus, GroupKind, GroupStatus, ImportKind, ImportStatus, Platform, WeComChatType
from .identifiers import clean_employee_no, normalize_employee_no
from .nicknames import DEFAULT_CONVENTION, validate_convention
from .querysets import (
    ChatGroupQuerySet,
    DepartmentScopeMixin,
    EmployeeQuerySet,
    ImportJobQuerySet,
    MembershipQuerySet,
)

PATH_SEPARATOR = "/"


class DepartmentQuerySet(DepartmentScopeMixin, MP_NodeQuerySet):
    pass


class DepartmentManager(MP_NodeManager.from_queryset(DepartmentQuerySet)):  # type: ignore[misc]
    def get_queryset(self):  # MP_NodeManager orders by path; keep that
        return DepartmentQuerySet(self.model).order_by("path")


class Department(MP_Node):
    """A node of the organisation tree (company → subsidiary → department → team).

    The materialised ``path`` (django-treebeard) makes a subtree one indexed prefix query, which is
    what scopes every department head's view. ``name_path`` is the human path used by roster
    files (总公司/销售部/华东区) and is kept unique.
    """

    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("部门编码"), max_length=50, blank=True)
    name_path = models.CharField(_("部门路径"), max_length=1000, unique=True, editable=False)
    head = models.ForeignKey(
        "groups.Employee",
        verbose_name=_("负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    wecom_webhook_url = models.URLField(
        _("企业微信群机器人 Webhook"), max_length=500, blank=True, help_text=_("部门负责人通知的推送地址(可选)")
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    node_order_by = ["name"]
    objects = DepartmentManager()

    class Meta:
        verbose_name = _("部门")
        verbose_name_plural = pgettext_lazy("plural", "部门")

    def __str__(self) -> str:
        return self.name_path or self.name

    @property
    def short_path(self) -> str:
        """The path below the company (销售部/华东区): what HR reads next to a person's name."""
        path = self.name_path or self.name
        return path.split(PATH_SEPARATOR, 1)[1] if PATH_SEPARATOR in path else path

    def compute_name_path(self) -> str:
        parent = type(self).objects.get_parent(self) if self.depth and self.depth > 1 else None
        return f"{parent.name_path}{PATH_SEPARATOR}{self.name}" if parent else self.name

    def save(self, *args, **kwargs):
        if self.path:
            old = type(self).objects.filter(pk=self.pk).values_list("name_path", flat=True).first()
            self.name_path = self.compute_name_path()
            super().save(*args, **kwargs)
            if old and old != self.name_path:
                self._rename_descendants(old)
                # Nicknames name the department: the subtree's people need checking again.
                Employee.objects.filter(department__path__startswith=self.path).update(
                    employment_changed_at=timezone.now()
                )
        else:
            super().save(*args, **kwargs)

    def _rename_descendants(self, old_prefix: str) -> None:
        for node in type(self).objects.get_descendants(self):
            node.name_path = self.name_path + node.name_path[len(old_prefix) :]
            models.Model.save(node, update_fields=["name_path"])


class Employee(models.Model):
    """A person on the HR roster, identified by the employee number (工号)."""

    employee_no = models.CharField(_("工号"), max_length=50, unique=True)
    name = models.CharField(_("姓名"), max_length=100, db_index=True)
    department = models.ForeignKey(
        Department, verbose_name=_("部门"), on_delete=models.PROTECT, related_name="employees"
    )
    title = models.CharField(_("职位"), max_length=100, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=EmployeeStatus.choices, default=EmployeeStatus.ACTIVE, db_index=True
    )
    hire_date = models.DateField(_("入职日期"), null=True, blank=True)
    departure_date = models.DateField(_("离职日期"), null=True, blank=True)
    wechat_id = models.CharField(_("微信号"), max_length=100, blank=True, db_index=True)
    wecom_id = models.CharField(_("企业微信账号"), max_length=100, blank=True, db_index=True)
    qq_id = models.CharField(_("QQ号"), max_length=30, blank=True, db_index=True)
    dingtalk_id = models.CharField(_("钉钉账号"), max_length=100, blank=True, db_index=True)
    email = models.EmailField(_("邮箱"), blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登录账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="employee",
    )
    anonymized_at = models.DateTimeField(_("匿名化时间"), null=True, blank=True, editable=False)
    # Set by every write of the record (save(), imports, anonymisation); cleared by the
    # reconciliation that has checked this person's groups since (groups/reconcile.py, incremental).
    employment_changed_at = models.DateTimeField(
        _("待核查变更时间"), null=True, blank=True, editable=False, db_index=True
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = EmployeeQuerySet.as_manager()

    PLATFORM_ID_FIELDS = {
        Platform.WECHAT: "wechat_id",
        Platform.WECOM: "wecom_id",
        Platform.QQ: "qq_id",
        Platform.DINGTALK: "dingtalk_id",
    }

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = pgettext_lazy("plural", "员工")
        ordering = ["employee_no"]
        constraints = [
            models.CheckConstraint(
                condition=Q(departure_date__isnull=True)
                | Q(hire_date__isnull=True)
                | Q(departure_date__gte=models.F("hire_date")),
                name="employee_departure_after_hire",
                violation_error_message=_("离职日期不能早于入职日期。"),
            ),
            models.CheckConstraint(
                condition=~Q(employee_no=""),
                name="employee_no_not_blank",
                violation_error_message=_("工号不能为空。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}({self.employee_no})"

    def save(self, *args, **kwargs):
        self.employee_no = normalize_employee_no(self.employee_no)
        self.employment_changed_at = timezone.now()  # the next reconciliation checks this person's groups
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"employment_changed_at"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        """One spelling per 工号 (groups.identifiers): normalised here, before the unique check."""
        super().clean()
        try:
            self.employee_no = clean_employee_no(self.employee_no)
        except ValueError as exc:
            raise ValidationError({"employee_no": str(exc)}) from None

    @property
    def is_active(self) -> bool:
        return self.status == EmployeeStatus.ACTIVE

    @property
    def is_departed(self) -> bool:
        return self.status == EmployeeStatus.DEPARTED

    @property
    def picker_label(self) -> str:
        """How HR picks the person (admin selects and autocompletes): 张三(E0102) · 销售部/华东区 · 离职.

        Reads the department: load it with the row (``select_related("department")``).
        """
        parts = [str(self), self.department.short_path]
        if self.is_departed:
            parts.append(str(EmployeeStatus.DEPARTED.label))
        return " · ".join(parts)

    def platform_id(self, platform: str) -> str:
        return getattr(self, self.PLATFORM_ID_FIELDS[platform])


class ChatGroup(models.Model):
    """A work chat group (工作群) on one platform, owned by a department."""

    name = models.CharField(_("群名称"), max_length=200)
    platform = models.CharField(_("平台"), max_length=10, choices=Platform.choices, db_index=True)
    kind = models.CharField(_("类型"), max_length=12, choices=GroupKind.choices, db_index=True)
    external_id = models.CharField(
        _("群ID"), max_length=200, blank=True, help_text=_("企业微信: 客户群的 chat_id 或会话存档的 roomid")
    )
    wecom_chat_type = models.CharField(
        _("企业微信群类别"),
        max_length=10,
        choices=WeComChatType.choices,
        blank=True,
        help_text=_("客户群可通过企业微信接口转让群主;内部群只能在企业微信中手动转让"),
    )
    # externalcontact/groupchat/get's member_version as of the last synced snapshot: an incremental
    # sync fetches only the groups whose version changed.
    wecom_member_version = models.CharField(_("企业微信成员版本"), max_length=64, blank=True, editable=False)
    department = models.ForeignKey(
        Department, verbose_name=_("所属部门"), on_delete=models.PROTECT, related_name="chat_groups"
    )
    owner = models.ForeignKey(
        Employee,
        verbose_name=_("群主"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_groups",
    )
    admins = models.ManyToManyField(
        Employee, verbose_name=_("群管理员"), blank=True, related_name="administered_groups"
    )
    purpose = models.TextField(_("用途"), blank=True)
    approved_by = models.ForeignKey(
        Employee,
        verbose_name=_("批准人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="approved_groups",
    )
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    filing_ref = models.CharField(_("备案号"), max_length=100, blank=True)
    status = models.CharField(
        _("状态"), max_length=10, choices=GroupStatus.choices, default=GroupStatus.ACTIVE, db_index=True
    )
    end_date = models.DateField(_("结束日期"), null=True, blank=True, help_text=_("项目群在项目结束后应解散"))
    dissolved_at = models.DateTimeField(_("解散时间"), null=True, blank=True)
    nickname_convention = models.CharField(
        _("群昵称规范"),
        max_length=200,
        default=DEFAULT_CONVENTION,
        validators=[validate_convention],
        help_text=_(
            "占位符: {name} 姓名, {department} 部门, {parent} 上级部门, {subsidiary} 子公司/地区, "
            "{company} 公司, {title} 职位, {employee_no} 工号。例: {department}-{name}"
        ),
    )
    admits_outsiders = models.BooleanField(
        _("允许外部人员"), default=False, help_text=_("客户群等可有非本公司人员;其他群只允许在职员工")
    )
    wecom_webhook_url = models.URLField(_("企业微信群机器人 Webhook"), max_length=500, blank=True)
    # Set when the group, its roster or (through Employee.employment_changed_at) one of its members
    # changed; cleared by the reconciliation that has checked the group since (incremental runs).
    roster_changed_at = models.DateTimeField(_("待核查变更时间"), null=True, blank=True, editable=False, db_index=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ChatGroupQuerySet.as_manager()

    class Meta:
        verbose_name = _("工作群")
        verbose_name_plural = pgettext_lazy("plural", "工作群")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "name"],
                condition=Q(status="active"),
                name="chatgroup_unique_active_name_per_platform",
                violation_error_message=_("同一平台上已有同名的正常群。"),
            ),
            models.CheckConstraint(
                condition=Q(status="dissolved") | Q(dissolved_at__isnull=True),
                name="chatgroup_dissolved_at_only_when_dissolved",
                violation_error_message=_("只有已解散的群才有解散时间。"),
            ),
        ]
        # the admin list's order (name, pk); trigram index on name: migration 0011 (PostgreSQL)
        indexes = [
            models.Index(fields=["name", "id"], name="chatgroup_name_id"),
            # a sync finds its group by (platform, chat id)
            models.Index(fields=["platform", "external_id"], name="chatgroup_platform_external_id"),
        ]

    def __str__(self) -> str:
        platform = self.get_platform_display()
        if self.name.endswith((f"({platform})", f"（{platform}）")):
            return self.name  # the group's name already says where it is (华东区销售群(微信))
        return f"{self.name}({platform})"

    def save(self, *args, **kwargs):
        self.roster_changed_at = timezone.now()  # status, convention, outsiders: the next run checks it
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"roster_changed_at"}
        super().save(*args, **kwargs)

    @classmethod
    def mark_changed(cls, group_ids) -> None:
        """Bulk writes of rosters send no save(): they mark their groups with this, after writing."""
        cls.objects.filter(pk__in=group_ids).update(roster_changed_at=timezone.now())

    @property
    def is_approved(self) -> bool:
        return self.approved_at is not None


class Membership(models.Model):
    """One person's presence in one group, as the group's roster shows it.

    History is kept: leaving sets ``left_at``. ``member_key`` identifies a roster line across
    snapshots (the platform id, else the nickname) so that one open row exists per person and group.
    """

    group = models.ForeignKey(ChatGroup, verbose_name=_("群"), on_delete=models.CASCADE, related_name="memberships")
    employee = models.ForeignKey(
        Employee,
        verbose_name=_("匹配员工"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="memberships",
        help_text=_("为空表示非本公司人员"),
    )
    nickname = models.CharField(_("群昵称"), max_length=200)
    platform_id = models.CharField(_("平台账号"), max_length=200, blank=True)
    member_key = models.CharField(_("成员标识"), max_length=220, editable=False)
    joined_at = models.DateTimeField(_("入群时间"), null=True, blank=True)
    left_at = models.DateTimeField(_("退群时间"), null=True, blank=True, db_index=True)
    invited_by = models.ForeignKey(
        Employee,
        verbose_name=_("邀请人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invited_memberships",
    )
    is_admin = models.BooleanField(_("群管理员"), default=False)
    # False when the platform says the member set no group nickname (WeCom: an empty group_nickname;
    # the group shows their name, stored in ``nickname``): the nickname check does not apply.
    nickname_set = models.BooleanField(_("已设置群昵称"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        verbose_name = _("群成员")
        verbose_name_plural = pgettext_lazy("plural", "群成员")
        ordering = ["group_id", "nickname"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "member_key"],
                condition=Q(left_at__isnull=True),
                name="membership_one_open_row_per_member",
                violation_error_message=_("此人已在该群中。"),
            ),
            models.UniqueConstraint(
                fields=["group", "employee"],
                condition=Q(left_at__isnull=True, employee__isnull=False),
                name="membership_one_open_row_per_employee",
                violation_error_message=_("该员工已在该群中。"),
            ),
            models.CheckConstraint(
                condition=Q(left_at__isnull=True) | Q(joined_at__isnull=True) | Q(left_at__gte=models.F("joined_at")),
                name="membership_left_after_joined",
                violation_error_message=_("退群时间不能早于入群时间。"),
            ),
        ]
        indexes = [
            models.Index(fields=["employee", "left_at"], name="membership_employee_open"),
            # The API's default order (and its keyset cursor): a page is one index range read.
            models.Index(fields=["group", "nickname", "id"], name="membership_group_nickname"),
            # R01/R03: the members a message @-mentions by platform id (by 群昵称: the index above)
            models.Index(fields=["group", "platform_id"], name="membership_group_platform"),
            # the admin list's order by nickname; trigram indexes on nickname and platform_id: migration
            # 0011 (PostgreSQL)
            models.Index(fields=["nickname", "-id"], name="membership_nickname"),
        ]

    def __str__(self) -> str:
        return f"{self.nickname} @ {self.group.name}"

    def save(self, *args, **kwargs):
        self.member_key = self.key_for(self.platform_id, self.nickname)
        if kwargs.get("update_fields") is not None and {"platform_id", "nickname"} & set(kwargs["update_fields"]):
            kwargs["update_fields"] = set(kwargs["update_fields"]) | {"member_key"}
        super().save(*args, **kwargs)
        ChatGroup.mark_changed([self.group_id])  # after the write: a run that misses it sees the mark

    @staticmethod
    def key_for(platform_id: str, nickname: str) -> str:
        return f"id:{platform_id.strip()}" if platform_id.strip() else f"nick:{nickname.strip()}"

    @property
    def is_open(self) -> bool:
        return self.left_at is None

    @property
    def is_outsider(self) -> bool:
        return self.employee_id is None


def import_upload_to(instance: ImportJob, filename: str) -> str:
    return f"imports/{instance.kind}/{filename}"


class ImportJob(models.Model):
    """One roster upload: its file, validation result, preview, progress and outcome."""

    kind = models.CharField(_("类型"), max_length=12, choices=ImportKind.choices)
    status = models.CharField(
        _("状态"), max_length=12, choices=ImportStatus.choices, default=ImportStatus.UPLOADED, db_index=True
    )
    file = models.FileField(_("文件"), upload_to=import_upload_to, max_length=500)
    original_name = models.CharField(_("原文件名"), max_length=255)
    size = models.PositiveBigIntegerField(_("文件大小"), default=0)
    encoding = models.CharField(_("编码"), max_length=20, blank=True)
    group = models.ForeignKey(
        ChatGroup,
        verbose_name=_("目标群"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
        help_text=_("文件没有“群名称”列时,成员导入到此群"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("导入人"), null=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    total_rows = models.PositiveIntegerField(_("总行数"), default=0)
    processed_rows = models.PositiveIntegerField(_("已处理行数"), default=0)
    preview = models.JSONField(_("预览"), default=dict, blank=True)
    summary = models.JSONField(_("结果"), default=dict, blank=True)
    errors = models.JSONField(_("错误"), default=list, blank=True)
    task_id = models.CharField(_("任务ID"), max_length=100, blank=True)
    create_departments = models.BooleanField(
        _("新建部门"), default=False, help_text=_("导入时新建预览列出的部门(否则这些行是错误)")
    )
    cancel_reason = models.TextField(_("取消原因"), blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        verbose_name = _("导入记录")
        verbose_name_plural = pgettext_lazy("plural", "导入记录")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(processed_rows__lte=models.F("total_rows")) | Q(total_rows=0),
                name="importjob_progress_within_total",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, int(self.processed_rows * 100 / self.total_rows))


class StagedImport(models.Model):
    """The rows an upload's validation read and checked, kept until the job ends (groups.importing.staging).

    Confirming a previewed job writes from these rows instead of reading and validating the file a
    second time; the plan against the database is still made again in the write transaction. Deleted
    with the upload when the job ends (personal data is not left behind).
    """

    job = models.OneToOneField(
        ImportJob, verbose_name=_("导入记录"), primary_key=True, on_delete=models.CASCADE, related_name="staged"
    )
    rows = models.JSONField(_("已校验的行"))
    created_at = models.DateTimeField(_("校验时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("已校验的导入数据")
        verbose_name_plural = pgettext_lazy("plural", "已校验的导入数据")

    def __str__(self) -> str:
        return str(self.job)


class RosterSettings(models.Model):
    """The company's settings for the roster routines (reconciliation, overdue notices): one row.

    The one source of the departed-member deadline: reconciliation escalates findings older than it
    and the dashboard counts them as overdue. HR edits it in the admin (核查设置), audited.
    """

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    departed_finding_overdue_hours = models.PositiveSmallIntegerField(
        _("离职人员清退时限(小时)"),
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 30)],
        help_text=_("离职人员仍在群内超过此时长,通知部门负责人并在仪表盘上计为逾期"),
    )
    chat_retention_days = models.PositiveSmallIntegerField(
        _("聊天记录保留天数"),
        default=180,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text=_("超过此天数的聊天消息内容每天自动清除(保留消息的时间、发送人和类型)"),
    )
    wecom_roster_source = models.BooleanField(
        _("以企业微信通讯录为花名册来源"),
        default=False,
        help_text=_(
            "勾选后,企业微信同步把通讯录(部门、成员、在职状态)写入员工花名册;"
            "不勾选时花名册以人事系统为准,企业微信账号只用于匹配员工,不一致之处列为通讯录核查结果"
        ),
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("核查设置")
        verbose_name_plural = pgettext_lazy("plural", "核查设置")
        constraints = [models.CheckConstraint(condition=Q(singleton=True), name="rostersettings_single_row")]

    def __str__(self) -> str:
        return str(_("核查设置"))

    @classmethod
    def load(cls) -> RosterSettings:
        """The one row (created with the defaults where a test database lacks it)."""
        return cls.objects.get_or_create(singleton=True)[0]


from .chat.models import ChatImport, ChatMessage  # noqa: E402, F401
from .findings import ReconcileRun, RosterFinding  # noqa: E402, F401  re-exported: every groups model importable from here
from .lifecycle import DepartmentMove, MemberRestriction, ReportedRemoval  # noqa: E402, F401  re-exported too
from .succession import WeComTransfer  # noqa: E402, F401  re-exported too
from .wecom_sync.models import (  # noqa: E402, F401  re-exported too
    DirectoryFinding,
    WeComArchiveState,
    WeComChat,
    WeComSyncRun,
    WeComUser,
)
