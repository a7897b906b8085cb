"""Personal-data retention (PIPL): anonymise departed employees after the retention period.

The rows stay (violations, sanctions, deductions and memberships keep pointing at them, so every
statistic still counts them); what identifies the person goes: name → "已匿名-<id>", 工号 →
"ANON-<id>", platform ids and e-mail blanked, group nicknames replaced and platform ids blanked,
the login account deactivated and stripped. Earlier audit-log entries of those rows have the same
fields masked, or the trail would keep what the rows no longer hold.

Writes use queryset updates on purpose: a model save() would make django-auditlog write a new entry
holding the old name next to the new one. One summary entry per person is written instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from auditlog.cid import get_cid
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from .models import Employee, Membership, ReportedRemoval

ANON_NAME_PREFIX = "已匿名-"
ANON_NO_PREFIX = "ANON-"
MASK = "[已匿名]"
EMPLOYEE_PERSONAL_FIELDS = ("name", "employee_no", "wechat_id", "wecom_id", "qq_id", "dingtalk_id", "email", "user")
MEMBERSHIP_PERSONAL_FIELDS = ("nickname", "platform_id", "member_key")
CHUNK = 500


@dataclass(frozen=True)
class AnonymizationResult:
    """What one run did; ``departed_without_date`` counts people it could not judge (no 离职日期)."""

    cutoff: date
    employees: int
    memberships: int
    audit_entries_redacted: int
    departed_without_date: int


def retention_cutoff(older_than_days: int | None = None) -> date:
    days = settings.QUNGUI_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 0:
        raise ValueError(f"older_than_days must be 0 or more, got {days}")
    return timezone.localdate() - timedelta(days=days)


def due_for_anonymization(*, older_than_days: int | None = None) -> models.QuerySet[Employee]:
    """Departed employees whose departure date lies before the retention cutoff, not yet anonymised."""
    cutoff = retention_cutoff(older_than_days)
    return Employee.objects.departed().filter(departure_date__lt=cutoff, anonymized_at__isnull=True)


@transaction.atomic
def anonymize_departed(*, older_than_days: int | None = None, acting_user=None) -> AnonymizationResult:
    """Anonymise every employee due (see module doc). Idempotent; concurrent runs skip each other's rows.

    ``older_than_days`` defaults to settings.QUNGUI_RETENTION_DAYS (QUNGUI_RETENTION_DAYS, 1095).
    """
    cutoff = retention_cutoff(older_than_days)
    # skip_locked: a second run at the same time leaves the rows the first one holds alone.
    due = due_for_anonymization(older_than_days=older_than_days).select_for_update(skip_locked=True)
    ids = list(due.order_by("pk").values_list("pk", flat=True))
    membership_ids: list[int] = []
    redacted = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        _anonymize_employees(chunk)
        membership_ids += _anonymize_memberships(chunk)
        redacted += _redact_history(Employee, chunk, EMPLOYEE_PERSONAL_FIELDS)
        _write_summary_entries(chunk, acting_user, cutoff)
    redacted += sum(
        _redact_history(Membership, membership_ids[i : i + CHUNK], MEMBERSHIP_PERSONAL_FIELDS)
        for i in range(0, len(membership_ids), CHUNK)
    )
    undated = Employee.objects.departed().filter(departure_date__isnull=True, anonymized_at__isnull=True).count()
    return AnonymizationResult(cutoff, len(ids), len(membership_ids), redacted, undated)


def _label(prefix: str, field: str = "pk") -> Concat:
    return Concat(models.Value(prefix), Cast(field, models.CharField()), output_field=models.CharField())


def _anonymize_employees(ids: list[int]) -> None:
    now = timezone.now()
    blank = dict.fromkeys(("wechat_id", "wecom_id", "qq_id", "dingtalk_id", "email"), "")
    Employee.objects.filter(pk__in=ids).update(
        name=_label(ANON_NAME_PREFIX),
        employee_no=_label(ANON_NO_PREFIX),
        anonymized_at=now,
        updated_at=now,
        employment_changed_at=now,
        **blank,
    )
    accounts = Employee.objects.filter(pk__in=ids, user__isnull=False).values_list("user_id", "pk")
    for user_id, employee_id in accounts:
        get_user_model().objects.filter(pk=user_id).update(
            username=f"anon-{employee_id}",
            first_name="",
            last_name="",
            email="",
            is_active=False,
            password=UNUSABLE_PASSWORD_PREFIX,  # check_password() is always False
        )


def _anonymize_memberships(employee_ids: list[int]) -> list[int]:
    memberships = Membership.objects.filter(employee_id__in=employee_ids)
    ids = list(memberships.values_list("pk", flat=True))
    # The nickname gets the anonymous label rather than "": member_key must stay unique per open row.
    memberships.update(
        nickname=_label(ANON_NAME_PREFIX, "employee_id"),
        platform_id="",
        member_key=_label(f"nick:{ANON_NAME_PREFIX}", "employee_id"),
        updated_at=timezone.now(),
    )
    # a reported removal keeps the member's key for the next snapshot: the same anonymous label
    ReportedRemoval.objects.filter(employee_id__in=employee_ids).update(
        member_key=_label(f"nick:{ANON_NAME_PREFIX}", "employee_id")
    )
    return ids


def _redact_history(model: type[models.Model], ids: list[int], fields: tuple[str, ...]) -> int:
    """Mask personal values in the audit entries already written for these rows."""
    if not ids:
        return 0
    content_type = ContentType.objects.get_for_model(model)
    current = {obj.pk: str(obj) for obj in model.objects.filter(pk__in=ids)}
    entries = list(LogEntry.objects.filter(content_type=content_type, object_pk__in=[str(i) for i in ids]))
    for entry in entries:
        entry.object_repr = current.get(int(entry.object_pk), MASK)
        entry.serialized_data = None
        entry.changes = _mask_changes(entry.changes, fields)
    LogEntry.objects.bulk_update(entries, ["object_repr", "serialized_data", "changes"], batch_size=CHUNK)
    return len(entries)


def _mask_changes(changes, fields: tuple[str, ...]):
    if not isinstance(changes, dict):
        return changes
    return {
        key: ([None if v in (None, "", "None") else MASK for v in value] if isinstance(value, list) else MASK)
        if key in fields
        else value
        for key, value in changes.items()
    }


def _write_summary_entries(ids: list[int], acting_user, cutoff: date) -> None:
    content_type = ContentType.objects.get_for_model(Employee)
    cid = get_cid()
    entries = [
        LogEntry(
            content_type=content_type,
            object_pk=str(employee.pk),
            object_id=employee.pk,
            object_repr=str(employee),
            action=LogEntry.Action.UPDATE,
            changes={field: [MASK, _new_value(employee, field)] for field in EMPLOYEE_PERSONAL_FIELDS},
            actor=acting_user,
            cid=cid,
            additional_data={"reason": "pipl_retention", "cutoff": cutoff.isoformat()},
        )
        for employee in Employee.objects.filter(pk__in=ids)
    ]
    LogEntry.objects.bulk_create(entries)


def _new_value(employee: Employee, field: str) -> str | None:
    value = employee.user_id if field == "user" else getattr(employee, field)
    return None if value is None else str(value)
