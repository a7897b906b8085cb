"""Audit trail for the violations app (django-auditlog), with the actor and the channel of each write.

auditlog records save()/delete() through signals. Its middleware stamps the request's user on web
requests; services add what the middleware cannot know: the channel (admin / api / self-service /
system) in ``additional_data``, and the actor outside requests (tasks, commands, tests).

An anonymous report must not leave the reporter's identity anywhere, the audit trail included: inside
``audit_context(..., anonymous=True)`` the actor, IP and correlation id (the request id, which the
proxy logs with the client address) are blanked, the entry's time is the start of the hour
(``report_time``: an exact time could be joined with a proxy log too), and auditlog's own request
context is masked for the duration.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from auditlog.context import auditlog_value
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.auth import get_user_model
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone

from .models import (
    Appeal,
    CompanySettings,
    Evidence,
    PerformanceMonth,
    Rule,
    Sanction,
    Violation,
    WorkdayOverride,
)

_context: ContextVar[dict | None] = ContextVar("qungui_audit_context", default=None)


@contextmanager
def audit_context(user, channel: str, *, anonymous: bool = False) -> Iterator[None]:
    """Within the block, every audit entry names ``user`` (unless anonymous) and ``channel``."""
    outer = _context.get()
    if outer is not None and outer.get("anonymous"):
        anonymous = True  # a nested service call must not unmask an anonymous write
    token = _context.set({"actor": None if anonymous else user, "channel": channel, "anonymous": anonymous})
    # auditlog's middleware receiver only acts when its own id is current: a foreign id silences it.
    masked = auditlog_value.set({"signal_duid": ("qungui-anonymous", time.time())}) if anonymous else None
    try:
        yield
    finally:
        if masked is not None:
            auditlog_value.reset(masked)
        _context.reset(token)


def report_time(moment: datetime.datetime | None = None) -> datetime.datetime:
    """The time an anonymous report's rows are stored with: the start of its hour (Asia/Shanghai)."""
    local = timezone.localtime(moment or timezone.now())
    return local.replace(minute=0, second=0, microsecond=0)


def current_channel() -> str | None:
    data = _context.get()
    return data["channel"] if data else None


@receiver(pre_save, sender=LogEntry, dispatch_uid="qungui_audit_stamp")
def _stamp_entry(sender, instance: LogEntry, **kwargs) -> None:
    data = _context.get()
    if data is None:
        return
    if data["anonymous"]:
        instance.actor = None
        instance.actor_email = None
        instance.remote_addr = None
        instance.remote_port = None
        instance.cid = None
        instance.timestamp = report_time(instance.timestamp)
    elif instance.actor_id is None and isinstance(data["actor"], get_user_model()):
        instance.actor = data["actor"]
        instance.actor_email = data["actor"].email or None
    extra = dict(instance.additional_data or {})
    extra["channel"] = data["channel"]
    if data["anonymous"]:
        extra["anonymous"] = True
    instance.additional_data = extra


auditlog.register(Rule, exclude_fields=["updated_at"])
auditlog.register(CompanySettings, exclude_fields=["updated_at"])
auditlog.register(WorkdayOverride)
auditlog.register(Violation, exclude_fields=["updated_at"])
auditlog.register(Evidence)
auditlog.register(Sanction, m2m_fields={"caused_by"})
auditlog.register(Appeal)

# Deductions rows are written in bulk; violations.deductions logs one summary entry per run.
auditlog.register(PerformanceMonth, exclude_fields=["computed_at", "computed_by"])
