"""The audit trail of every app (django-auditlog): who changed, viewed or exported what, on which channel.

- **Writes.** auditlog records save()/delete() through model signals; its middleware names the
  session user. Services run their writes inside ``audit_context(acting_user, channel)``, which adds
  what the middleware cannot know: the actor outside requests or behind a DRF token (tasks, commands,
  API calls) and the channel (``Channel``: admin / api / self-service / system) in
  ``additional_data``. Nested contexts keep the outer channel unless they name their own.
- **Anonymous writes.** Inside ``audit_context(..., anonymous=True)`` the actor, IP and correlation id
  (the request id, which a proxy logs with the client address) are blanked, the entry's time is the
  start of the hour (``report_time``: an exact time could be joined with a proxy log too), and
  auditlog's own request context is masked. A nested context cannot unmask it.
- **Bulk writes** (imports, reconciliation, deductions, role sync) send no signals: their services
  write one ``log_summary`` entry in the same transaction.
- **Reads (PIPL).** Views and exports of personal data call ``log_access``, so the same trail answers
  "who looked at this person's record, who downloaded the monthly report".
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Literal

from auditlog.cid import get_cid
from auditlog.context import auditlog_value
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.utils import timezone

_context: ContextVar[dict | None] = ContextVar("qungui_audit_context", default=None)


@contextmanager
def audit_context(user, channel: str | None = None, *, anonymous: bool = False) -> Iterator[None]:
    """Within the block, every audit entry names ``user`` (unless anonymous) and ``channel``.

    ``channel`` None keeps the enclosing context's channel (a service called by another service).
    """
    outer = _context.get()
    if outer is not None:
        anonymous = anonymous or outer["anonymous"]  # a nested service call must not unmask the write
        channel = channel or outer["channel"]
        user = user if user is not None else outer["actor"]
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
    if data["channel"]:
        extra["channel"] = str(data["channel"])
    if data["anonymous"]:
        extra["anonymous"] = True
    instance.additional_data = extra


def log_summary(
    target: models.Model | type[models.Model],
    *,
    label: str,
    changes: dict[str, Any],
    data: dict[str, Any] | None = None,
    actor=None,
    action: int = LogEntry.Action.UPDATE,
    object_pk: str | None = None,
) -> LogEntry:
    """One entry for a bulk write that sent no signals (an import, a reconciliation, a computed month).

    ``target`` is the object the write concerns (an import job, a month) or the model it wrote to;
    ``object_pk`` names the run when there is no object (``reconcile_all``). ``actor`` None leaves the
    actor to the current ``audit_context`` (or none: a system job).
    """
    is_object = isinstance(target, models.Model)
    pk = target.pk if is_object else None
    return LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(target),
        object_pk=object_pk if object_pk is not None else str(pk or ""),
        object_id=pk if isinstance(pk, int) else None,
        object_repr=label[:200],
        action=action,
        changes=changes,
        additional_data=data if data is not None else {},
        actor=actor if getattr(actor, "pk", None) else None,
    )


AccessAction = Literal["view", "export"]
ACCESS_ACTIONS = ("view", "export")


def log_access(
    user,
    obj_or_label: models.Model | type[models.Model] | models.QuerySet | str,
    action: AccessAction = "view",
    detail: str = "",
    *,
    data: dict[str, Any] | None = None,
    label: str | None = None,
) -> LogEntry:
    """Write one ACCESS entry: ``user`` viewed or exported ``obj_or_label``.

    ``obj_or_label`` is a model instance (that object), a model class or queryset (a list or export
    of that model; the queryset's row count goes into the entry), or a plain label such as
    "违规月报 2026-05" (recorded against the LogEntry content type, meaning "no single object").
    ``data`` adds to the entry's ``additional_data`` (an export's format and filters); ``label``
    replaces the object's description.
    """
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"action must be one of {ACCESS_ACTIONS}, got {action!r}")
    target = _describe(obj_or_label)
    if label is not None:
        target["object_repr"] = label[:200]
    actor = user if user is not None and user.is_authenticated else None
    return LogEntry.objects.create(
        action=LogEntry.Action.ACCESS,
        actor=actor,
        actor_email=getattr(actor, "email", None) or None,
        cid=get_cid(),
        changes_text=detail,
        additional_data={"access": action, "detail": detail, **target.pop("extra"), **(data or {})},
        **target,
    )


def _describe(obj_or_label) -> dict:
    if isinstance(obj_or_label, models.Model):
        pk = obj_or_label.pk
        return {
            "content_type": ContentType.objects.get_for_model(obj_or_label),
            "object_pk": str(pk),
            "object_id": pk if isinstance(pk, int) else None,
            "object_repr": str(obj_or_label),
            "extra": {},
        }
    if isinstance(obj_or_label, models.QuerySet) or (
        isinstance(obj_or_label, type) and issubclass(obj_or_label, models.Model)
    ):
        model = obj_or_label.model if isinstance(obj_or_label, models.QuerySet) else obj_or_label
        extra = {"rows": obj_or_label.count()} if isinstance(obj_or_label, models.QuerySet) else {}
        return {
            "content_type": ContentType.objects.get_for_model(model),
            "object_pk": "",
            "object_id": None,
            "object_repr": str(model._meta.verbose_name_plural),
            "extra": extra,
        }
    label = str(obj_or_label).strip()
    if not label:
        raise ValueError("obj_or_label must be a model instance, model, queryset or a non-empty label")
    return {
        "content_type": ContentType.objects.get_for_model(LogEntry),
        "object_pk": "",
        "object_id": None,
        "object_repr": label,
        "extra": {},
    }
