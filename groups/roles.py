"""Company-wide roles as auth groups, kept in step with the models' permissions and the org chart.

HR admins and auditors are assigned by hand (auth groups ``HR管理员`` / ``审计``). Department heads
and group admins are *derived*: from ``Department.head`` and ``ChatGroup.owner/admins``. They get
scoped, read-only admin access (staff flag + the view permissions of the role groups
``部门负责人`` / ``群管理员``); ``ScopedAdminMixin`` limits every list to ``visible_to(user)``.
``sync_derived_roles`` keeps both in step: called after any change of heads, owners, admins or an
employee's login/status (signals below, once per transaction) and by ``manage.py sync_roles``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q

# Apps whose models HR may change; auditors get the view permission on these and on the audit log.
MANAGED_APPS = ("groups", "violations", "portal", "dashboard")
AUDIT_APPS = (*MANAGED_APPS, "auditlog")

ROLE_DEPARTMENT_HEAD = getattr(settings, "ROLE_DEPARTMENT_HEAD", "部门负责人")
ROLE_GROUP_ADMIN = getattr(settings, "ROLE_GROUP_ADMIN", "群管理员")
# (app_label, model) pairs each derived role may view; the rows shown are scoped by visible_to.
DERIVED_ROLE_MODELS = {
    ROLE_DEPARTMENT_HEAD: [
        ("groups", "department"),
        ("groups", "employee"),
        ("groups", "chatgroup"),
        ("groups", "membership"),
        ("groups", "rosterfinding"),
        ("groups", "chatmessage"),
        ("violations", "violation"),
        ("violations", "sanction"),
        ("violations", "appeal"),
        ("violations", "rule"),
    ],
    ROLE_GROUP_ADMIN: [
        ("groups", "employee"),
        ("groups", "chatgroup"),
        ("groups", "membership"),
        ("groups", "rosterfinding"),
        ("groups", "chatmessage"),
        ("violations", "violation"),
        ("violations", "rule"),
    ],
}


def ensure_roles(app_config=None, **kwargs) -> None:
    # post_migrate is sent once per app, in INSTALLED_APPS order; wait for the last, when every
    # app's permissions exist.
    if app_config is not None and app_config.name != settings.INSTALLED_APPS[-1]:
        return
    from django.contrib.auth.models import Group, Permission

    hr, _ = Group.objects.get_or_create(name=settings.ROLE_HR_ADMIN)
    auditor, _ = Group.objects.get_or_create(name=settings.ROLE_AUDITOR)
    hr_perms = Permission.objects.filter(content_type__app_label__in=MANAGED_APPS)
    view_perms = Permission.objects.filter(content_type__app_label__in=AUDIT_APPS, codename__startswith="view_")
    hr.permissions.set(list(hr_perms) + list(view_perms))
    auditor.permissions.set(view_perms)
    for name, models in DERIVED_ROLE_MODELS.items():
        group, _ = Group.objects.get_or_create(name=name)
        query = Q(pk__in=[])
        for app_label, model in models:
            query |= Q(content_type__app_label=app_label, content_type__model=model, codename=f"view_{model}")
        group.permissions.set(Permission.objects.filter(query))


def is_hr(user) -> bool:
    from portal.scoping import scope_for

    return scope_for(user).is_hr


@dataclass(frozen=True)
class RoleSync:
    """What one ``sync_derived_roles`` run changed (user ids)."""

    heads_added: tuple[int, ...] = ()
    heads_removed: tuple[int, ...] = ()
    admins_added: tuple[int, ...] = ()
    admins_removed: tuple[int, ...] = ()
    staff_granted: tuple[int, ...] = ()
    staff_revoked: tuple[int, ...] = ()

    @property
    def changed(self) -> bool:
        return any(asdict(self).values())


def derived_role_users() -> dict[str, set[int]]:
    """User ids that should hold each derived role: active employees with a login who head a
    department, or own / administer an active group."""
    from .models import Employee

    people = Employee.objects.filter(status="active", user__isnull=False, user__is_active=True)
    heads = set(people.filter(headed_departments__isnull=False).values_list("user_id", flat=True))
    admins = set(
        people.filter(Q(owned_groups__status="active") | Q(administered_groups__status="active")).values_list(
            "user_id", flat=True
        )
    )
    return {ROLE_DEPARTMENT_HEAD: heads, ROLE_GROUP_ADMIN: admins}


@transaction.atomic
def sync_derived_roles(*, acting_user=None) -> RoleSync:
    """Put exactly the current heads and group admins into their role groups and make them staff.

    Users who lose their last derived role lose the staff flag too, unless they hold another role
    group (HR, auditor, anything assigned by hand) or are superusers. One audit entry per run that
    changed something (membership of auth groups is not tracked by auditlog's model signals).
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user_model = get_user_model()
    wanted = derived_role_users()
    changes: dict[str, tuple[int, ...]] = {}
    for name, key in ((ROLE_DEPARTMENT_HEAD, "heads"), (ROLE_GROUP_ADMIN, "admins")):
        group, _ = Group.objects.get_or_create(name=name)
        current = set(group.user_set.values_list("pk", flat=True))
        added, removed = wanted[name] - current, current - wanted[name]
        group.user_set.add(*added)
        group.user_set.remove(*removed)
        changes[f"{key}_added"], changes[f"{key}_removed"] = tuple(sorted(added)), tuple(sorted(removed))
    everyone = wanted[ROLE_DEPARTMENT_HEAD] | wanted[ROLE_GROUP_ADMIN]
    to_staff = user_model.objects.filter(pk__in=everyone, is_staff=False)
    changes["staff_granted"] = tuple(sorted(to_staff.values_list("pk", flat=True)))
    to_staff.update(is_staff=True)
    lost = (set(changes["heads_removed"]) | set(changes["admins_removed"])) - everyone
    to_unstaff = user_model.objects.filter(pk__in=lost, is_staff=True, is_superuser=False, groups__isnull=True)
    changes["staff_revoked"] = tuple(sorted(to_unstaff.values_list("pk", flat=True)))
    user_model.objects.filter(pk__in=changes["staff_revoked"]).update(is_staff=False)
    result = RoleSync(**changes)
    if result.changed:
        _audit(result, acting_user)
    return result


def _audit(result: RoleSync, acting_user) -> None:
    from django.contrib.auth.models import Group

    from portal.audit import log_summary

    summary = {key: list(value) for key, value in asdict(result).items()}
    log_summary(
        Group,
        object_pk="sync_derived_roles",
        label="角色同步 sync_derived_roles",
        changes={"roles": [None, summary]},
        data=summary,
        actor=acting_user,
    )


# --- keep derived roles in step with the org chart ---------------------------------------------------


def _run_sync() -> None:
    sync_derived_roles(acting_user=None)


def schedule_sync(**kwargs) -> None:
    """Signal receiver: sync once after the current transaction commits (however many rows changed)."""
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(func is _run_sync for _, func, *_ in connection.run_on_commit):
        return
    transaction.on_commit(_run_sync)


def connect_signals() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from .models import ChatGroup, Department, Employee

    for model in (Department, ChatGroup, Employee):
        post_save.connect(schedule_sync, sender=model, dispatch_uid=f"qungui_roles_save_{model.__name__}")
        post_delete.connect(schedule_sync, sender=model, dispatch_uid=f"qungui_roles_delete_{model.__name__}")
    m2m_changed.connect(schedule_sync, sender=ChatGroup.admins.through, dispatch_uid="qungui_roles_admins")
