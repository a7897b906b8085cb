"""Writes of the WeCom connection (``portal.models.WeComConnection``): saving it with new secrets,
and testing it (``gettoken`` per configured secret, plus one cheap call where the secret allows).

HR or IT only (``require_hr``; superusers are HR). Secrets reach the row encrypted and the audit
trail as "已更换" (changed), never as values, old or new.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .audit import audit_context, log_summary
from .models import WeComApp, WeComConnection
from .scoping import require_hr
from .secrets import SecretUnreadable
from .wecom import WeComClient, WeComCredentials, WeComError

CHANGED = "已更换"  # what the audit diff shows for a secret
REMOVED = "已清除"


@transaction.atomic
def save_connection(connection: WeComConnection, *, acting_user, secrets: dict[str, str | None]) -> WeComConnection:
    """Save the connection's plain fields and the secrets given: a non-empty value replaces that
    app's secret, ``None`` or "" keeps it (a blank admin field). Removing one: ``clear_secret``."""
    require_hr(acting_user)
    connection.full_clean(exclude=[*WeComConnection.SECRET_FIELDS.values()])
    changed = {}
    for app, value in secrets.items():
        value = (value or "").strip()
        if not value:
            continue  # blank keeps the stored secret
        connection.set_secret(app, value)
        changed[f"{app}_secret"] = ["", CHANGED]
    with audit_context(acting_user, "admin"):
        connection.save()
        if changed:
            log_summary(connection, label=str(connection), changes=changed, data={"secrets_changed": sorted(changed)})
    return connection


@transaction.atomic
def clear_secret(connection: WeComConnection, app: str, *, acting_user) -> None:
    require_hr(acting_user)
    connection.set_secret(app, "")
    with audit_context(acting_user, "admin"):
        connection.save(update_fields=[WeComConnection.SECRET_FIELDS[app], "updated_at"])
        log_summary(connection, label=str(connection), changes={f"{app}_secret": ["", REMOVED]})


def _check(connection: WeComConnection, app: str) -> str:
    label = WeComApp(app).label
    if not connection.has_secret(app):
        return _("%(app)s: 未设置 Secret") % {"app": label}
    try:
        secret = connection.secret(app)
    except SecretUnreadable:
        return _("%(app)s: 已保存的 Secret 无法解密(密钥已更换),请重新填写") % {"app": label}
    client = WeComClient(WeComCredentials(connection.corp_id, secret, base_url=connection.base_url, app=app), retries=0)
    client.rate_retries = 0
    try:
        client.access_token(refresh=True)
        if app == WeComApp.CUSTOMER:
            client.groupchat_list(limit=1)
        elif app == WeComApp.CONTACTS:
            client.department_list()
    except WeComError as exc:
        return _("%(app)s: 失败(%(path)s 错误码 %(code)s: %(msg)s)") % {
            "app": label,
            "path": exc.path,
            "code": exc.errcode if exc.errcode is not None else "-",
            "msg": exc.errmsg,
        }
    return _("%(app)s: 成功") % {"app": label}


def test_connection(connection: WeComConnection, *, acting_user) -> tuple[bool, list[str]]:
    """Call ``gettoken`` with each stored secret (and one read the secret should allow); returns
    (every configured secret worked, one line per app) and records the result on the row."""
    require_hr(acting_user)
    if not connection.corp_id:
        lines, ok = [_("未填写企业ID")], False
    else:
        lines = [_check(connection, app) for app in WeComApp.values]
        configured = [line for app, line in zip(WeComApp.values, lines, strict=True) if connection.has_secret(app)]
        ok = bool(configured) and all(line.endswith(_("成功")) for line in configured)
    connection.last_test_at = timezone.now()
    connection.last_test_result = "\n".join(lines)
    connection.save(update_fields=["last_test_at", "last_test_result", "updated_at"])
    return ok, lines


def record_sync_status(status: str, message: str = "", *, at=None) -> None:
    """A sync run's outcome on the connection row (最近同步时间 / 状态 / 说明), for the admin page.
    A conditional UPDATE of three columns: no audit entry (the run's import job is the record), and
    no lost update of the secrets an HR admin may be saving at the same moment."""
    WeComConnection.objects.filter(singleton=True).update(
        last_sync_at=at or timezone.now(), last_sync_status=status[:20], last_sync_message=message[:2000]
    )
