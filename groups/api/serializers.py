"""API representations of the organisation models. Writes are validated here, done by services."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from portal.api.serializers import ModelValidatingSerializer, ScopedPrimaryKeyRelatedField

from ..choices import CHAT_FORMAT_CHOICES, GroupStatus, ImportKind
from ..identifiers import clean_employee_no
from ..models import (
    PATH_SEPARATOR,
    ChatGroup,
    ChatImport,
    ChatMessage,
    Department,
    Employee,
    ImportJob,
    Membership,
    RosterFinding,
)


class ParentDepartmentField(ScopedPrimaryKeyRelatedField):
    """The parent's id: read from the ``parent_pk`` annotation (one query for a whole list)."""

    def get_attribute(self, instance):
        return getattr(instance, "parent_pk", None)

    def to_representation(self, value):
        return value


class DepartmentSerializer(ModelValidatingSerializer):
    parent = ParentDepartmentField(queryset=Department.objects.all(), allow_null=True, label=_("上级部门"))
    head = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), allow_null=True, required=False, label=_("负责人")
    )
    head_name = serializers.CharField(source="head.name", read_only=True, allow_null=True, label=_("负责人姓名"))

    class Meta:
        model = Department
        fields = ["id", "name", "code", "name_path", "parent", "depth", "head", "head_name", "created_at"]
        read_only_fields = ["name_path", "depth", "created_at"]

    def validate_name(self, value: str) -> str:
        if PATH_SEPARATOR in value:
            raise serializers.ValidationError(_("部门名称不能包含“/”。"))
        return value

    def validate_parent(self, value: Department | None) -> Department:
        if value is None:
            raise serializers.ValidationError(_("请指定上级部门。"))
        return value

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        name_path = f"{attrs['parent'].name_path}{PATH_SEPARATOR}{attrs['name']}"
        if Department.objects.filter(name_path=name_path).exists():
            raise serializers.ValidationError({"name": [_("上级部门下已有同名部门。")]})
        return attrs


class EmployeeNoField(serializers.CharField):
    """A 工号 normalised (groups.identifiers) before the unique check runs on it."""

    def to_internal_value(self, data):
        try:
            return clean_employee_no(super().to_internal_value(data))
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None


class EmployeeSerializer(ModelValidatingSerializer):
    """An employee as the roster has them. The linked login is shown only as ``has_login``."""

    department = ScopedPrimaryKeyRelatedField(queryset=Department.objects.all(), label=_("部门"))
    department_path = serializers.CharField(source="department.name_path", read_only=True, label=_("部门路径"))
    has_login = serializers.SerializerMethodField(label=_("有登录账号"))

    class Meta:
        model = Employee
        fields = [
            "id",
            "employee_no",
            "name",
            "department",
            "department_path",
            "title",
            "status",
            "hire_date",
            "departure_date",
            "wechat_id",
            "wecom_id",
            "qq_id",
            "dingtalk_id",
            "email",
            "has_login",
            "anonymized_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["anonymized_at", "created_at", "updated_at"]

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        return (EmployeeNoField if field_name == "employee_no" else field_class), kwargs

    def get_has_login(self, employee: Employee) -> bool:
        return employee.user_id is not None


class ChatGroupSerializer(ModelValidatingSerializer):
    department = ScopedPrimaryKeyRelatedField(queryset=Department.objects.all(), label=_("所属部门"))
    department_path = serializers.CharField(source="department.name_path", read_only=True, label=_("部门路径"))
    owner = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), allow_null=True, required=False, label=_("群主")
    )
    owner_name = serializers.CharField(source="owner.name", read_only=True, allow_null=True, label=_("群主姓名"))
    admins = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), many=True, required=False, label=_("群管理员")
    )
    approved_by = ScopedPrimaryKeyRelatedField(
        queryset=Employee.objects.all(), allow_null=True, required=False, label=_("批准人")
    )
    member_count = serializers.IntegerField(read_only=True, label=_("当前成员数"))

    class Meta:
        model = ChatGroup
        fields = [
            "id",
            "name",
            "platform",
            "kind",
            "external_id",
            "department",
            "department_path",
            "owner",
            "owner_name",
            "admins",
            "purpose",
            "approved_by",
            "approved_at",
            "filing_ref",
            "status",
            "end_date",
            "dissolved_at",
            "nickname_convention",
            "admits_outsiders",
            "member_count",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["dissolved_at", "created_at", "updated_at"]

    def _candidate(self, attrs: dict):
        candidate = super()._candidate(attrs)
        # dissolved_at follows status (the service stamps it); check the constraint against that.
        if candidate.status != GroupStatus.DISSOLVED:
            candidate.dissolved_at = None
        elif candidate.dissolved_at is None:
            candidate.dissolved_at = timezone.now()
        return candidate


class MembershipSerializer(serializers.ModelSerializer):
    """One roster line of a group (read-only: rosters change by import)."""

    group_name = serializers.CharField(source="group.name", read_only=True, label=_("群名称"))
    employee_no = serializers.CharField(source="employee.employee_no", read_only=True, allow_null=True)
    employee_name = serializers.CharField(source="employee.name", read_only=True, allow_null=True)
    is_open = serializers.BooleanField(read_only=True, label=_("仍在群中"))
    is_outsider = serializers.BooleanField(read_only=True, label=_("非本公司人员"))

    class Meta:
        model = Membership
        fields = [
            "id",
            "group",
            "group_name",
            "employee",
            "employee_no",
            "employee_name",
            "nickname",
            "platform_id",
            "joined_at",
            "left_at",
            "invited_by",
            "is_admin",
            "is_open",
            "is_outsider",
            "created_at",
        ]
        read_only_fields = fields


class RosterFindingSerializer(serializers.ModelSerializer):
    """One reconciliation finding (read-only: people act on it through the mark-removed/waive actions)."""

    kind_display = serializers.CharField(source="get_kind_display", read_only=True, label=_("类型名称"))
    group_name = serializers.CharField(source="group.name", read_only=True, label=_("群名称"))
    employee_name = serializers.CharField(source="employee.name", read_only=True, allow_null=True, label=_("姓名"))
    nickname = serializers.CharField(source="membership.nickname", read_only=True, allow_null=True, label=_("群昵称"))
    last_seen_at = serializers.DateTimeField(
        source="seen_at", read_only=True, label=_("最近发现"), help_text=_("开放状态的结果:最近一次核查的时间")
    )

    class Meta:
        model = RosterFinding
        fields = [
            "id",
            "kind",
            "kind_display",
            "group",
            "group_name",
            "membership",
            "nickname",
            "employee",
            "employee_name",
            "detail",
            "suggested_successor",
            "first_seen_at",
            "last_seen_at",
            "status",
            "resolved_at",
            "waive_reason",
            "escalated_at",
        ]
        read_only_fields = fields


class WaiveSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, label=_("豁免原因"))


class ImportJobSerializer(serializers.ModelSerializer):
    """An import's status, progress, preview (dry run) and outcome."""

    progress_percent = serializers.IntegerField(read_only=True, label=_("进度(%)"))

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "status",
            "original_name",
            "size",
            "encoding",
            "group",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "total_rows",
            "processed_rows",
            "progress_percent",
            "preview",
            "summary",
            "errors",
            "create_departments",
        ]
        read_only_fields = fields


class ImportUploadSerializer(serializers.Serializer):
    """multipart/form-data: the roster file and what it is."""

    kind = serializers.ChoiceField(choices=ImportKind.choices, label=_("类型"))
    file = serializers.FileField(label=_("文件"), help_text=_("CSV(UTF-8 或 GBK)或 XLSX"))
    group = ScopedPrimaryKeyRelatedField(
        queryset=ChatGroup.objects.all(),
        required=False,
        allow_null=True,
        label=_("目标群"),
        help_text=_("文件没有“群名称”列时,成员导入到此群"),
    )
    dry_run = serializers.BooleanField(default=False, label=_("仅校验预览"), help_text=_("为真时只校验并预览,不写入"))
    create_departments = serializers.BooleanField(
        default=False,
        label=_("新建部门"),
        help_text=_("为真时新建文件中不存在的部门(完整路径,上级已存在或也在文件中);否则这些行是错误"),
    )


class ImportConfirmSerializer(serializers.Serializer):
    """The importer's choice when confirming a dry run (omitted: as chosen at upload)."""

    create_departments = serializers.BooleanField(
        required=False, label=_("新建部门"), help_text=_("为真时新建预览中 new_departments 列出的部门")
    )


class ChatImportSerializer(serializers.ModelSerializer):
    """A chat import: its preview (chats, range, senders matched or not) and outcome."""

    class Meta:
        model = ChatImport
        fields = [
            "id", "group", "platform", "status", "original_name", "size", "encoding", "created_by", "created_at",
            "finished_at", "message_count", "created_count", "first_sent_at", "last_sent_at",
            "matched_senders", "unmatched_senders", "preview", "errors",
        ]  # fmt: skip
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if isinstance(data.get("preview"), dict):
            # every sender id of the file is the write's working list, not a response: its size grows
            # with the file (the preview lists the busiest senders and says how many there are)
            data["preview"] = {k: v for k, v in data["preview"].items() if k != "sender_ids"}
        return data


class ChatUploadSerializer(serializers.Serializer):
    """multipart/form-data: the export file and its group."""

    file = serializers.FileField(label=_("文件"), help_text=_("企业微信会话存档 JSONL、留痕 CSV 或 QQ 消息管理器 TXT"))
    group = ScopedPrimaryKeyRelatedField(queryset=ChatGroup.objects.all(), label=_("群"))
    platform = serializers.ChoiceField(choices=CHAT_FORMAT_CHOICES, required=False, default="", label=_("格式"))
    dry_run = serializers.BooleanField(default=False, label=_("仅校验预览"), help_text=_("为真时只校验并预览,不写入"))


class ChatMessageSerializer(serializers.ModelSerializer):
    """A message without its body (lists)."""

    class Meta:
        model = ChatMessage
        fields = [
            "id", "group", "platform", "natural_key", "sent_at", "kind", "sender_platform_id", "sender_name",
            "employee", "membership", "mentions_all", "recalled", "recalled_at", "purged_at",
        ]  # fmt: skip
        read_only_fields = fields


class ChatMessageDetailSerializer(ChatMessageSerializer):
    """A message with its body: reading it is an audited access."""

    class Meta(ChatMessageSerializer.Meta):
        fields = [*ChatMessageSerializer.Meta.fields, "text", "link_url", "link_title", "mentions", "recalls", "extra"]
        read_only_fields = fields
