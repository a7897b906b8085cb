"""离职继承 through the WeCom API: each chat sent to ``externalcontact/groupchat/transfer`` and what
WeCom answered for it, one ``WeComTransfer`` row per chat and attempt.

The rows are the day's quota (WeCom transfers at most ``DAILY_LIMIT`` chats a day per company),
what HR reads on the finding (the errcode and its Chinese explanation), and the audit trail of
each call. The service that writes them is ``groups.services.apply_successor``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

DAILY_LIMIT = 300  # chats transferred a day (doc path 92127)
BATCH = 100  # chat ids per call

# What a failed_chat_list errcode means, for HR (WeCom's errmsg is kept next to it).
ERRCODE_EXPLANATIONS = {
    90500: _("原群主尚未离职,不能离职继承(在职转让须在企业微信中由群主操作或使用在职继承)"),
    90501: _("该群不是客户群,无法通过接口转让"),
    90503: _("已达到企业微信每日离职继承上限(300个群),请明天再试"),  # the local server's stand-in code
    40050: _("企业微信中找不到该群(群ID有误或群已解散)"),
    60111: _("继任群主在企业微信通讯录中不存在或已离职"),
    84074: _("继任群主没有客户联系权限,请在企业微信管理后台为其开通"),
}


def explain(errcode: int | None, errmsg: str = "") -> str:
    """HR's reading of a WeCom errcode: the known explanation, else WeCom's own message."""
    known = ERRCODE_EXPLANATIONS.get(errcode or 0)
    if known:
        return str(known)
    return str(_("企业微信返回错误 %(code)s: %(msg)s") % {"code": errcode, "msg": errmsg or "-"})


class TransferStatus(models.TextChoices):
    TRANSFERRED = "transferred", _("已转让")
    FAILED = "failed", _("转让失败")


class WeComTransferQuerySet(models.QuerySet):
    def transferred_on(self, day) -> WeComTransferQuerySet:
        """Chats transferred on ``day`` (a date in the portal's time zone, Beijing time like WeCom)."""
        return self.filter(status=TransferStatus.TRANSFERRED, attempted_on=day)

    def left_today(self) -> int:
        return max(0, DAILY_LIMIT - self.transferred_on(timezone.localdate()).count())


class WeComTransfer(models.Model):
    """One chat of one ``groupchat/transfer`` call: to whom, and what WeCom said (errcode 0: done)."""

    group = models.ForeignKey(
        "groups.ChatGroup", verbose_name=_("群"), on_delete=models.CASCADE, related_name="wecom_transfers"
    )
    finding = models.ForeignKey(
        "groups.RosterFinding",
        verbose_name=_("花名册核查结果"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="wecom_transfers",
    )
    chat_id = models.CharField(_("群ID"), max_length=200)
    new_owner = models.ForeignKey(
        "groups.Employee", verbose_name=_("继任群主"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    new_owner_userid = models.CharField(_("继任群主企业微信账号"), max_length=64)
    status = models.CharField(_("结果"), max_length=12, choices=TransferStatus.choices)
    errcode = models.IntegerField(_("错误码"), default=0)
    errmsg = models.CharField(_("企业微信返回信息"), max_length=300, blank=True)
    attempted_at = models.DateTimeField(_("转让时间"), default=timezone.now)
    attempted_on = models.DateField(_("转让日期"), default=timezone.localdate, db_index=True)
    attempted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = WeComTransferQuerySet.as_manager()

    class Meta:
        verbose_name = _("企业微信群主转让")
        verbose_name_plural = pgettext_lazy("plural", "企业微信群主转让")
        ordering = ["-attempted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="transferred", errcode=0) | (Q(status="failed") & ~Q(errcode=0)),
                name="wecomtransfer_status_matches_errcode",
                violation_error_message=_("转让结果与错误码不一致。"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chat_id} → {self.new_owner_userid} ({self.get_status_display()})"

    @property
    def explanation(self) -> str:
        return "" if self.status == TransferStatus.TRANSFERRED else explain(self.errcode, self.errmsg)


# --- Transferring through the API ------------------------------------------------------------------


class TransferFailed(ValidationError):
    """WeCom did not transfer the chat: the finding stays open, the failed row is kept for HR."""


def api_transfer_refusal(group) -> str:
    """Why ``group`` cannot be handed over through the API ("" when it can): only customer groups
    (客户联系) have a transfer call; internal groups are transferred by hand in WeCom."""
    from portal.models import WeComConnection

    from .choices import Platform, WeComChatType

    if group.platform != Platform.WECOM:
        return str(_("非企业微信群:请在群内手动转让群主后确认。"))
    if group.wecom_chat_type != WeComChatType.CUSTOMER or not group.external_id:
        return str(
            _("内部群无法通过企业微信接口转让群主(接口只支持客户群):请在企业微信中由群主或管理员手动转让后确认。")
        )
    connection = WeComConnection.objects.filter(singleton=True).first()  # a page view writes no row
    if connection is None or not (
        connection.enabled and connection.customer_enabled and connection.has_secret("customer")
    ):
        return str(_("企业微信连接未启用客户联系:请在企业微信中手动转让后确认,或先配置企业微信连接。"))
    return ""


def transfer_chats(groups, successor, *, acting_user, findings=None) -> list[WeComTransfer]:
    """Send the groups' chats to ``groupchat/transfer`` in batches of ``BATCH``, no more than the
    day's quota left; one ``WeComTransfer`` row per chat sent, transferred or failed.

    Raises ``TransferFailed`` before any call when the successor has no WeCom account or the quota
    is used up; a call that fails as a whole (``WeComError``) records every chat of its batch as
    failed with that errcode. Groups past the quota are not sent (no row): the caller says so.
    """
    from portal.wecom import WeComError, client_for

    if not successor.wecom_id:
        raise TransferFailed({"successor": _("继任群主没有企业微信账号(员工的“企业微信账号”为空)。")})
    left = WeComTransfer.objects.left_today()
    if left <= 0:
        raise TransferFailed({"successor": explain(DAILY_LIMIT_ERRCODE)})
    groups = list(groups)[:left]
    by_chat = {g.external_id: g for g in groups}
    finding_of = {f.group_id: f for f in findings or []}
    try:
        client = client_for("customer")
    except Exception as exc:  # not configured, or the stored secret no longer decrypts
        raise TransferFailed({"successor": _("企业微信连接不可用: %(error)s") % {"error": exc}}) from None
    rows = []
    for start in range(0, len(groups), BATCH):
        chat_ids = [g.external_id for g in groups[start : start + BATCH]]
        try:
            failed = {f["chat_id"]: f for f in client.groupchat_transfer(chat_ids, successor.wecom_id)}
        except WeComError as exc:
            errcode = exc.errcode if exc.errcode else -1
            failed = {c: {"errcode": errcode, "errmsg": exc.errmsg} for c in chat_ids}
        for chat_id in chat_ids:
            entry = failed.get(chat_id)
            group = by_chat[chat_id]
            rows.append(
                WeComTransfer(
                    group=group,
                    finding=finding_of.get(group.pk),
                    chat_id=chat_id,
                    new_owner=successor,
                    new_owner_userid=successor.wecom_id,
                    status=TransferStatus.FAILED if entry else TransferStatus.TRANSFERRED,
                    errcode=int(entry.get("errcode") or -1) if entry else 0,
                    errmsg=str(entry.get("errmsg", ""))[:300] if entry else "",
                    attempted_by=acting_user if getattr(acting_user, "pk", None) else None,
                )
            )
    WeComTransfer.objects.bulk_create(rows)
    return rows


DAILY_LIMIT_ERRCODE = 90503
