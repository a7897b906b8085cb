"""The audit trail as HR reads it: field labels, local times and values as the screens show them.

django-auditlog stores every value as text: booleans as ``True``/``False``, choices as their codes,
foreign keys as primary keys, times in naive UTC, and, on creation, reverse relations as their
manager's name (``violations.Evidence.None``). ``readable_changes`` turns an entry's changes into
rows of (label, before, after) with the field's verbose name, 是/否, the choice's label, the related
object's name (looked up once per entry) and Asia/Shanghai times; reverse relations are left out.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .choices import Channel

EMPTY = "—"
MASKED_FIELDS = {"password"}
ACCESS_KINDS = {"view": gettext_lazy("查看"), "export": gettext_lazy("导出")}
M2M_OPERATIONS = {"add": gettext_lazy("添加"), "delete": gettext_lazy("移除"), "clear": gettext_lazy("清空")}
# Keys of additional_data and of summary entries (log_summary) that are not model fields.
EXTRA_LABELS = {
    "channel": gettext_lazy("来源"),
    "anonymous": gettext_lazy("匿名"),
    "access": gettext_lazy("访问方式"),
    "detail": gettext_lazy("说明"),
    "rows": gettext_lazy("行数"),
    "reason": gettext_lazy("原因"),
    "format": gettext_lazy("格式"),
    "filters": gettext_lazy("筛选条件"),
}


@dataclass(frozen=True)
class ChangeRow:
    label: str
    before: str
    after: str


def local_time(moment: datetime.datetime | None) -> str:
    """``2026-05-03 18:00:00`` in the portal's time zone (Asia/Shanghai)."""
    if moment is None:
        return EMPTY
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, datetime.UTC)
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S")


def channel_label(value: Any) -> str:
    return str(Channel(value).label) if value in Channel.values else (str(value) if value else EMPTY)


def _model_field(model: type[models.Model] | None, name: str) -> models.Field | None:
    if model is None:
        return None
    try:
        return model._meta.get_field(name)
    except FieldDoesNotExist:
        return None


# django-treebeard's bookkeeping columns of the department tree (the path is shown as 部门路径).
TREE_FIELDS = {"path", "depth", "numchild"}


def _is_reverse(field) -> bool:
    """A reverse relation (``Violation.evidence``): auditlog records its manager's name, not a value.
    Also the tree's bookkeeping columns, which have no label and mean nothing to HR."""
    if field is not None and field.name in TREE_FIELDS and str(field.verbose_name) == field.name:
        return True
    return field is not None and field.auto_created and not field.concrete


def _plain(value: Any) -> str:
    if value is None or value == "None" or value == "":
        return EMPTY
    if value is True or value == "True":
        return _("是")
    if value is False or value == "False":
        return _("否")
    if isinstance(value, dict | list):
        return (
            ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else ", ".join(map(str, value))
        )
    return str(value)


def _parse_time(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


class _Related:
    """Names of the related objects one entry refers to, fetched once per model."""

    def __init__(self):
        self._names: dict[type[models.Model], dict[str, str]] = {}
        self._wanted: dict[type[models.Model], set[str]] = {}

    def want(self, model: type[models.Model], value: Any) -> None:
        if value not in (None, "None", ""):
            self._wanted.setdefault(model, set()).add(str(value))

    def name(self, model: type[models.Model], value: Any) -> str:
        if value in (None, "None", ""):
            return EMPTY
        if model not in self._names:
            wanted = self._wanted.get(model, {str(value)})
            valid = []
            for pk in wanted:
                try:
                    valid.append(model._meta.pk.to_python(pk))
                except (TypeError, ValueError, ValidationError):  # a legacy value that is a name, not a key
                    continue
            self._names[model] = {str(obj.pk): str(obj) for obj in model._base_manager.filter(pk__in=valid)}
        found = self._names[model].get(str(value))
        if found is not None:
            return found
        if not str(value).isdigit():
            return str(value)  # an old entry that stored the object's name
        return _("已删除的%(model)s(#%(pk)s)") % {"model": model._meta.verbose_name, "pk": value}


def _display(field, value: Any, related: _Related) -> str:
    if field is None:
        return _plain(value)
    if field.name in MASKED_FIELDS:
        return "***"
    if value is None or value == "None":
        return EMPTY
    if field.is_relation and (field.many_to_one or field.one_to_one):
        return related.name(field.related_model, value)
    choices = getattr(field, "flatchoices", None)
    if choices:
        labels = {str(code): label for code, label in choices}
        return str(labels.get(str(value), value)) if value != "" else EMPTY
    if isinstance(field, models.BooleanField):
        return _plain(value)
    if isinstance(field, models.DateTimeField):
        moment = _parse_time(str(value))
        return local_time(moment) if moment else _plain(value)
    if isinstance(field, models.DateField):
        return str(value)[:10] or EMPTY
    return _plain(value)


def readable_changes(entry: LogEntry) -> list[ChangeRow]:
    """The entry's changes as rows of (label, before, after), in the model's field order."""
    changes = entry.changes_dict or {}
    if not changes:
        return []
    model = entry.content_type.model_class() if entry.content_type_id else None
    related = _Related()
    fields = {name: _model_field(model, name) for name in changes}
    for name, change in changes.items():
        field = fields[name]
        if field is not None and field.is_relation and (field.many_to_one or field.one_to_one):
            for value in change if isinstance(change, list | tuple) else ():
                related.want(field.related_model, value)
    order = {f.name: i for i, f in enumerate(model._meta.get_fields())} if model else {}
    rows = []
    for name in sorted(changes, key=lambda n: (order.get(n, len(order)), n)):
        field, change = fields[name], changes[name]
        if _is_reverse(field):
            continue
        label = str(field.verbose_name) if field is not None else str(EXTRA_LABELS.get(name, name))
        if name == "id":
            label = "ID"
        if isinstance(change, dict) and change.get("type") == "m2m":
            operation = str(M2M_OPERATIONS.get(change.get("operation"), change.get("operation", "")))
            objects = "、".join(str(o) for o in change.get("objects", [])) or EMPTY
            rows.append(ChangeRow(label, operation, objects))
            continue
        if not isinstance(change, list | tuple) or len(change) != 2:
            rows.append(ChangeRow(label, EMPTY, _plain(change)))
            continue
        rows.append(ChangeRow(label, _display(field, change[0], related), _display(field, change[1], related)))
    return rows


def changed_labels(entry: LogEntry) -> list[str]:
    """The labels of the changed fields (for the list's one-line summary)."""
    changes = entry.changes_dict or {}
    model = entry.content_type.model_class() if entry.content_type_id else None
    labels = []
    for name in changes:
        field = _model_field(model, name)
        if _is_reverse(field):
            continue
        labels.append("ID" if name == "id" else str(field.verbose_name if field else EXTRA_LABELS.get(name, name)))
    return labels


def readable_extra(entry: LogEntry) -> list[tuple[str, str]]:
    """``additional_data`` but the channel as (label, value): 是/否, the access kind, a reason."""
    rows = []
    for key, value in (entry.additional_data or {}).items():
        if key == "channel":
            continue  # shown as 来源 next to the actor
        shown = str(ACCESS_KINDS.get(value, value)) if key == "access" else _plain(value)
        rows.append((str(EXTRA_LABELS.get(key, key)), shown))
    return rows
