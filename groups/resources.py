"""django-import-export resources for admin exports (imports go through groups.importing)."""

from django.utils.translation import gettext_lazy as _
from import_export.fields import Field

from portal.exports import SafeExportResource

from .models import ChatGroup, Employee, Membership


class EmployeeExportResource(SafeExportResource):
    employee_no = Field(attribute="employee_no", column_name=_("工号"))
    name = Field(attribute="name", column_name=_("姓名"))
    department = Field(attribute="department__name_path", column_name=_("部门"))
    title = Field(attribute="title", column_name=_("职位"))
    status = Field(attribute="get_status_display", column_name=_("状态"))
    hire_date = Field(attribute="hire_date", column_name=_("入职日期"))
    departure_date = Field(attribute="departure_date", column_name=_("离职日期"))
    wechat_id = Field(attribute="wechat_id", column_name=_("微信号"))

    class Meta:
        model = Employee
        fields = ("employee_no", "name", "department", "title", "status", "hire_date", "departure_date", "wechat_id")
        export_order = fields


class ChatGroupExportResource(SafeExportResource):
    name = Field(attribute="name", column_name=_("群名称"))
    platform = Field(attribute="get_platform_display", column_name=_("平台"))
    kind = Field(attribute="get_kind_display", column_name=_("类型"))
    department = Field(attribute="department__name_path", column_name=_("所属部门"))
    owner = Field(attribute="owner__name", column_name=_("群主"))
    status = Field(attribute="get_status_display", column_name=_("状态"))
    approved_at = Field(attribute="approved_at", column_name=_("批准时间"))
    end_date = Field(attribute="end_date", column_name=_("结束日期"))

    class Meta:
        model = ChatGroup
        fields = ("name", "platform", "kind", "department", "owner", "status", "approved_at", "end_date")
        export_order = fields


class MembershipExportResource(SafeExportResource):
    group = Field(attribute="group__name", column_name=_("群名称"))
    nickname = Field(attribute="nickname", column_name=_("群昵称"))
    platform_id = Field(attribute="platform_id", column_name=_("平台账号"))
    employee_no = Field(attribute="employee__employee_no", column_name=_("工号"))
    employee_name = Field(attribute="employee__name", column_name=_("姓名"))
    joined_at = Field(attribute="joined_at", column_name=_("入群时间"))
    left_at = Field(attribute="left_at", column_name=_("退群时间"))
    is_admin = Field(attribute="is_admin", column_name=_("群管理员"))

    class Meta:
        model = Membership
        fields = (
            "group",
            "nickname",
            "platform_id",
            "employee_no",
            "employee_name",
            "joined_at",
            "left_at",
            "is_admin",
        )
        export_order = fields
