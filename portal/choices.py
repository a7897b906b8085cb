"""Choices of the portal app (TextChoices, zh-hans labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class ExportKind(models.TextChoices):
    VIOLATIONS = "violations", _("违规报表")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


class ExportEncoding(models.TextChoices):
    UTF8_BOM = "utf-8-sig", _("UTF-8(带BOM,推荐)")
    GBK = "gbk", _("GBK(旧版Excel;无法编码的字符替换为“?”)")


class ExportStatus(models.TextChoices):
    PENDING = "pending", _("排队中")
    RUNNING = "running", _("生成中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    EXPIRED = "expired", _("已过期")


class Channel(models.TextChoices):
    """Where a write came from, recorded with every audit entry (``portal.audit.audit_context``)."""

    ADMIN = "admin", _("管理后台")
    API = "api", _("接口")
    SELF_SERVICE = "self_service", _("员工自助")
    SYSTEM = "system", _("系统")
    DETECTION = "detection", _("系统检测")
