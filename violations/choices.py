"""Choices of the violations app (TextChoices, zh-hans labels)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RuleCategory(models.TextChoices):
    CONTENT = "content", _("内容")
    CONDUCT = "conduct", _("行为")
    CONFIDENTIALITY = "confidentiality", _("保密")
    MEMBERSHIP = "membership", _("成员管理")
    RESPONSIVENESS = "responsiveness", _("响应")


class SanctionKind(models.TextChoices):
    REMINDER = "reminder", _("提醒")
    WARNING = "warning", _("警告")
    SERIOUS_WARNING = "serious_warning", _("严重警告")
    PUBLIC_CRITICISM = "public_criticism", _("通报批评")
    DEMERIT = "demerit", _("记过")
    FINE = "fine", _("罚款")
    POINTS = "points", _("扣绩效分")
    FORFEIT_MONTH = "forfeit_month", _("扣当月全额绩效")
    MUTE = "mute", _("禁言")
    REMOVAL = "removal", _("清出群")
    DISMISSAL_RECOMMENDED = "dismissal_recommended", _("建议辞退")


class ViolationStatus(models.TextChoices):
    REPORTED = "reported", _("已举报")
    SUSPECTED = "suspected", _("待核实")
    CONFIRMED = "confirmed", _("已确认")
    SANCTIONED = "sanctioned", _("已处分")
    DISMISSED = "dismissed", _("不予处理")
    APPEALED = "appealed", _("申诉中")
    UPHELD = "upheld", _("维持原处分")
    OVERTURNED = "overturned", _("已撤销")


# A suspicion found by chat detection (violations.detection): no violation yet. It counts nowhere (ladder,
# deductions, report, dashboard, notices, the employee's own pages) until a person confirms it.
SUSPECTED_STATUSES = (ViolationStatus.SUSPECTED,)
# Statuses whose sanctions no longer stand: the ladder ignores them and their sanctions are withdrawn.
VOID_STATUSES = (ViolationStatus.DISMISSED, ViolationStatus.OVERTURNED)
# Statuses in which sanctions stand (an appeal pending still counts for the ladder, see querysets).
STANDING_STATUSES = (ViolationStatus.SANCTIONED, ViolationStatus.APPEALED, ViolationStatus.UPHELD)


class AppealStatus(models.TextChoices):
    PENDING = "pending", _("待裁决")
    UPHELD = "upheld", _("维持")
    OVERTURNED = "overturned", _("撤销")


class EvidenceType(models.TextChoices):
    PNG = "png", "PNG"
    JPEG = "jpeg", "JPEG"
    GIF = "gif", "GIF"
    WEBP = "webp", "WebP"
    PDF = "pdf", "PDF"


class MonthStatus(models.TextChoices):
    OPEN = "open", _("未关账")
    CLOSED = "closed", _("已关账")


class DeductionKind(models.TextChoices):
    REGULAR = "regular", _("常规")
    ADJUSTMENT = "adjustment", _("调整")


class LexiconKind(models.TextChoices):
    WORD = "word", _("词语")
    PATTERN = "pattern", _("通配模式")
    DOMAIN = "domain", _("链接域名")
