"""Employment ends, access ends: the login of a departed employee is deactivated, its API token deleted.

``end_access_of_departed`` runs inside the transaction that marks people departed, whichever path
that is:

- the roster import (a bulk upsert that sends no model signals) calls it after writing;
- every ``Employee.save()`` with status departed and a linked login (admin form, API, services,
  the shell) triggers it through the ``post_save`` receiver below.

Each deactivated login gets one audit row (the user's history: who, when, why, which import) and the
derived roles (department head, group admin) are re-synced at once, in the same transaction. If a
path still slips past all this, ``groups.accounts`` refuses the login, the session, the token and the
scope of anyone linked to a departed employee anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from .choices import EmployeeStatus
from .models import Employee

# Where a departure came from, in the audit rows' additional_data["source"].
SOURCE_IMPORT = "roster_import"
SOURCE_SAVE = "employee_saved"
CHUNK = 1000


@dataclass(frozen=True)
class AccessEnded:
    """What one run changed: the logins deactivated and how many API tokens were deleted."""

    user_ids: tuple[int, ...] = ()
    tokens_deleted: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.user_ids or self.tokens_deleted)


def _still_open(employee_ids=None):
    """Departed employees whose login is still active or still holds a token."""
    rows = Employee.objects.filter(status=EmployeeStatus.DEPARTED, user__isnull=False).filter(
        Q(user__is_active=True) | Q(user__auth_token__isnull=False)
    )
    return rows if employee_ids is None else rows.filter(pk__in=employee_ids)


@transaction.atomic
def end_access_of_departed(*, acting_user, source: str, detail: str = "", employee_ids=None) -> AccessEnded:
    """Deactivate the logins of departed employees (all of them, or only ``employee_ids``) and delete
    their API tokens; one audit row per login; derived roles re-synced. Idempotent: a second run
    finds nothing to do."""
    from rest_framework.authtoken.models import Token

    from .roles import sync_derived_roles

    people = list(_still_open(employee_ids).order_by("pk").values_list("pk", "user_id", "user__is_active").distinct())
    if not people:
        return AccessEnded()
    user_ids = [user_id for _, user_id, _ in people]
    with_token: set[int] = set()
    tokens_deleted = 0
    for start in range(0, len(user_ids), CHUNK):  # bounded IN lists (SQLite's parameter limit)
        chunk = user_ids[start : start + CHUNK]
        with_token.update(Token.objects.filter(user_id__in=chunk).values_list("user_id", flat=True))
        get_user_model().objects.filter(pk__in=chunk, is_active=True).update(is_active=False)
        tokens_deleted += Token.objects.filter(user_id__in=chunk).delete()[0]
    _audit(people, with_token, acting_user=acting_user, source=source, detail=detail)
    sync_derived_roles(acting_user=acting_user)
    return AccessEnded(user_ids=tuple(user_ids), tokens_deleted=tokens_deleted)


def _audit(people, with_token: set[int], *, acting_user, source: str, detail: str) -> None:
    """One UPDATE entry per login, written in bulk (a large import may end many at once).

    Ids only, no names, 工号 or usernames: the PIPL retention job (groups.privacy) later anonymises
    the departed person's record and login, and these rows must not keep the old values."""
    from auditlog.cid import get_cid
    from auditlog.models import LogEntry
    from django.contrib.contenttypes.models import ContentType

    actor = acting_user if getattr(acting_user, "pk", None) else None
    content_type = ContentType.objects.get_for_model(get_user_model())
    cid = get_cid()
    entries = []
    for employee_id, user_id, was_active in people:
        changes = {}
        if was_active:
            changes["is_active"] = ["True", "False"]
        if user_id in with_token:
            changes["auth_token"] = ["******", "None"]  # the key itself never goes into the trail
        entries.append(
            LogEntry(
                content_type=content_type,
                object_pk=str(user_id),
                object_id=user_id,
                object_repr=f"登录账号 #{user_id}",
                action=LogEntry.Action.UPDATE,
                changes=changes,
                changes_text=f"员工 #{employee_id} 离职:登录账号停用,API 令牌撤销",
                actor=actor,
                actor_email=getattr(actor, "email", None) or None,
                cid=cid,
                additional_data={
                    "reason": "employee_departed",
                    "employee_id": employee_id,
                    "source": source,
                    "detail": detail,
                    "token_deleted": user_id in with_token,
                },
            )
        )
    if actor is not None:
        LogEntry.objects.bulk_create(entries, batch_size=1000)
        return
    # No actor given (a model save in the admin or the API): saved one by one, so that auditlog's
    # request context, when there is one, names the signed-in user and their address as it does for
    # the employee's own entry.
    for entry in entries:
        entry.save()


def employee_saved(sender, instance: Employee, raw: bool = False, **kwargs) -> None:
    """post_save receiver: a departed employee with a login loses it in the same transaction."""
    if raw or instance.status != EmployeeStatus.DEPARTED or not instance.user_id:
        return
    end_access_of_departed(acting_user=None, source=SOURCE_SAVE, employee_ids=[instance.pk])


def connect_signals() -> None:
    from django.db.models.signals import post_save

    post_save.connect(employee_saved, sender=Employee, dispatch_uid="qungui_offboarding_employee_saved")
