from django.db import models
from django.utils.translation import gettext_lazy as _


class EmployeeStatus(models.TextChoices):
    ACTIVE = "active", _("在职")
    DEPARTED = "departed", _("离职")


class Platform(models.TextChoices):
    WECHAT = "wechat", _("微信")
    WECOM = "wecom", _("企业微信")
    QQ = "qq", _("QQ")
    DINGTALK = "dingtalk", _("钉钉")


class GroupKind(models.TextChoices):
    DEPARTMENT = "department", _("部门群")
    COMPANY = "company", _("公共群")
    PROJECT = "project", _("项目群")
    CUSTOMER = "customer", _("客户群")
    MEETING = "meeting", _("会议群")


class WeComChatType(models.TextChoices):
    """Which WeCom API knows the group: 客户联系 (externalcontact/groupchat, transferable by API) or
    the chat archive only (msgaudit/groupchat, an internal group: no transfer API)."""

    CUSTOMER = "customer", _("客户群(客户联系)")
    INTERNAL = "internal", _("内部群(会话存档)")


class GroupStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    DISSOLVED = "dissolved", _("已解散")


class ImportKind(models.TextChoices):
    EMPLOYEES = "employees", _("员工花名册")
    GROUP = "group", _("群成员名单")


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("已上传")
    VALIDATING = "validating", _("校验中")
    INVALID = "invalid", _("有错误")
    PREVIEWED = "previewed", _("待确认")
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("导入中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    CANCELLED = "cancelled", _("已取消")


class FindingKind(models.TextChoices):
    DEPARTED_MEMBER = "departed_member", _("离职员工仍在群")
    OUTSIDER = "outsider", _("非本公司人员在群")
    BAD_NICKNAME = "bad_nickname", _("群昵称不合规范")
    OWNER_DEPARTED = "owner_departed", _("群主已离职")
    PROJECT_OVERDUE = "project_overdue", _("项目群逾期未解散")
    UNAPPROVED_GROUP = "unapproved_group", _("群未经审批备案")
    STILL_PRESENT = "still_present", _("报告已移出但仍在群")
    REJOINED_BARRED = "rejoined_barred", _("禁入期内重新入群")
    MOVED_DEPARTMENT = "moved_department", _("调岗后仍在原部门群")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    RESOLVED = "resolved", _("已解决")
    WAIVED = "waived", _("已豁免")


class RestrictionKind(models.TextChoices):
    """What a carried-out sanction leaves behind in a group (written by violations, read by groups)."""

    REJOIN_BAR = "rejoin_bar", _("禁止再入群")
    MUTE = "mute", _("禁言")


class RemovalSource(models.TextChoices):
    CONFIRMED = "confirmed", _("确认已移出群")
    SANCTION = "sanction", _("执行清出群处分")


# The formats an upload may name ("" = recognise the file): the platforms with a chat-export reader.
CHAT_FORMAT_CHOICES = [
    ("", _("自动识别")),
    (Platform.WECOM.value, Platform.WECOM.label),
    (Platform.WECHAT.value, Platform.WECHAT.label),
    (Platform.QQ.value, Platform.QQ.label),
]


class MessageKind(models.TextChoices):
    TEXT = "text", _("文本")
    IMAGE = "image", _("图片")
    LINK = "link", _("链接")
    REDPACKET = "redpacket", _("红包")
    SYSTEM = "system", _("系统消息")
    RECALL = "recall", _("撤回")
    FILE = "file", _("文件")
    OTHER = "other", _("其他")


class SyncStatus(models.TextChoices):
    RUNNING = "running", _("同步中")
    INTERRUPTED = "interrupted", _("已中断(待续)")
    DONE = "done", _("已完成")
    PARTIAL = "partial", _("部分完成")
    FAILED = "failed", _("失败")


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("定时")
    MANUAL = "manual", _("立即同步")


class SyncPhase(models.TextChoices):
    ORG = "org", _("通讯录")
    LIST = "list", _("客户群列表")
    FETCH = "fetch", _("客户群成员")
    ROOMS = "rooms", _("内部群成员")
    ARCHIVE = "archive", _("会话存档")
    DONE = "done", _("完成")


class WeComChatKind(models.TextChoices):
    CUSTOMER = "customer", _("客户群")
    INTERNAL = "internal", _("内部群")


class DirectoryFindingKind(models.TextChoices):
    NOT_EMPLOYEE = "not_employee", _("企业微信成员不在花名册")
    DEPARTED_ACTIVE = "departed_active", _("已离职员工仍在企业微信")
    NAME_MISMATCH = "name_mismatch", _("企业微信姓名与花名册不符")
