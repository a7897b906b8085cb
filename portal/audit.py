"""Access audit (PIPL): who viewed or exported personal data, written to the django-auditlog trail.

django-auditlog records writes through model signals; reads leave no trace by themselves. Views
that show or export personal data call ``log_access`` so that the same trail answers "who looked at
this person's record, who downloaded the monthly report".
"""

from __future__ import annotations

from typing import Literal

from auditlog.cid import get_cid
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models

AccessAction = Literal["view", "export"]
ACCESS_ACTIONS = ("view", "export")


def log_access(
    user,
    obj_or_label: models.Model | type[models.Model] | models.QuerySet | str,
    action: AccessAction = "view",
    detail: str = "",
) -> LogEntry:
    """Write one ACCESS entry: ``user`` viewed or exported ``obj_or_label``.

    ``obj_or_label`` is a model instance (that object), a model class or queryset (a list or export
    of that model; the queryset's row count goes into the entry), or a plain label such as
    "违规月报 2026-05" (recorded against the LogEntry content type, meaning "no single object").
    """
    if action not in ACCESS_ACTIONS:
        raise ValueError(f"action must be one of {ACCESS_ACTIONS}, got {action!r}")
    target = _describe(obj_or_label)
    actor = user if user is not None and user.is_authenticated else None
    return LogEntry.objects.create(
        action=LogEntry.Action.ACCESS,
        actor=actor,
        actor_email=getattr(actor, "email", None) or None,
        cid=get_cid(),
        changes_text=detail,
        additional_data={"access": action, "detail": detail, **target.pop("extra")},
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
