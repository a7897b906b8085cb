"""Column specifications: which headers a roster file may have, in Chinese or English."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .errors import ErrorList, ImportFileError


@dataclass(frozen=True)
class Column:
    """One known column: its key, its Chinese label (used in error messages) and accepted headers."""

    key: str
    label: str
    aliases: tuple[str, ...]
    required: bool = False


EMPLOYEE_COLUMNS = (
    Column("employee_no", "工号", ("工号", "员工编号", "员工工号", "employee_no", "employee no", "employee id"), True),
    Column("name", "姓名", ("姓名", "员工姓名", "name", "full name"), True),
    Column("department", "部门", ("部门", "所属部门", "部门路径", "department", "dept"), True),
    Column("department_code", "部门编码", ("部门编码", "部门代码", "department_code", "department code", "dept code")),
    Column("title", "职位", ("职位", "岗位", "职务", "title", "position", "job title")),
    Column("status", "状态", ("状态", "在职状态", "员工状态", "status")),
    Column("hire_date", "入职日期", ("入职日期", "入职时间", "hire_date", "hire date", "hired")),
    Column("departure_date", "离职日期", ("离职日期", "离职时间", "departure_date", "departure date", "left")),
    Column("wechat_id", "微信号", ("微信号", "微信", "微信id", "wechat_id", "wechat", "wechat id")),
    Column("wecom_id", "企业微信", ("企业微信", "企业微信号", "企业微信账号", "企微账号", "wecom_id", "wecom")),
    Column("qq_id", "QQ", ("qq", "qq号", "qq_id")),
    Column("dingtalk_id", "钉钉", ("钉钉", "钉钉号", "钉钉账号", "dingtalk_id", "dingtalk")),
    Column("email", "邮箱", ("邮箱", "电子邮箱", "邮件", "email", "e-mail")),
)

ROSTER_COLUMNS = (
    Column("nickname", "群昵称", ("群昵称", "昵称", "群名片", "nickname", "display name"), True),
    Column(
        "platform_id",
        "平台账号",
        ("微信号", "平台账号", "账号", "企业微信账号", "qq号", "qq", "钉钉账号", "platform_id", "wechat_id", "user id"),
    ),
    Column("group", "群名称", ("群名称", "群", "群名", "group", "group name", "group_name")),
    Column("joined_at", "入群时间", ("入群时间", "入群日期", "加入时间", "joined_at", "joined", "join date")),
    Column("is_admin", "群管理员", ("群管理员", "管理员", "是否管理员", "is_admin", "admin")),
    Column("invited_by", "邀请人", ("邀请人", "邀请者", "invited_by", "invited by", "inviter")),
)

UNKNOWN_HEADER = gettext_lazy("无法识别的表头(文件编码不对,或不是花名册文件)")


def _norm(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.strip().lstrip("\ufeff")).casefold()


def map_header(header: list[str], columns: tuple[Column, ...]) -> dict[str, int]:
    """Map column keys to positions. Raises ImportFileError listing every header problem.

    Unknown columns are refused too: a garbage decode (UTF-8 read as GB18030) or the wrong kind
    of file must not import "successfully" with blank fields.
    """
    lookup = {_norm(alias): col for col in columns for alias in col.aliases}
    positions: dict[str, int] = {}
    errors = ErrorList()
    for index, title in enumerate(header):
        if not title:
            continue
        col = lookup.get(_norm(title))
        if col is None:
            errors.add(1, title, _("未知的列"))
        elif col.key in positions:
            errors.add(1, title, _("列重复"))
        else:
            positions[col.key] = index
    if not positions:
        raise ImportFileError(_("表头"), str(UNKNOWN_HEADER), row=1)
    for col in columns:
        if col.required and col.key not in positions:
            errors.add(1, col.label, _("缺少必需的列"))
    if errors:
        raise HeaderError(errors.messages())
    return positions


class HeaderError(Exception):
    """The header row has unknown, duplicate or missing columns."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


def label(columns: tuple[Column, ...], key: str) -> str:
    return next(c.label for c in columns if c.key == key)
