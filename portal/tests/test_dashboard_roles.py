"""Department heads and group admins get scoped, read-only admin access, synced with the org chart."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group

from groups.roles import ROLE_DEPARTMENT_HEAD, ROLE_GROUP_ADMIN, ensure_roles, sync_derived_roles

from .dashboard_data import commit_pending

pytestmark = pytest.mark.django_db


def role_members(name: str) -> set[str]:
    return set(Group.objects.get(name=name).user_set.values_list("username", flat=True))


def test_sync_grants_and_revokes(org, hr, head_sales, head_tech, group_admin, employee_user):
    ensure_roles()
    result = sync_derived_roles(acting_user=hr)
    assert role_members(ROLE_DEPARTMENT_HEAD) == {"head_sales", "head_tech"}
    assert role_members(ROLE_GROUP_ADMIN) == {"head_sales", "group_admin"}  # 李销售 owns the sales group
    for user in (head_sales, head_tech, group_admin, employee_user):
        user.refresh_from_db()
    assert head_sales.is_staff and group_admin.is_staff and not employee_user.is_staff
    assert head_tech.has_perm("violations.view_violation") and not head_tech.has_perm("violations.change_violation")
    assert LogEntry.objects.filter(object_pk="sync_derived_roles", actor=hr).count() == 1
    assert not sync_derived_roles(acting_user=hr).changed  # idempotent
    assert result.changed

    org["tech"].head = None
    org["tech"].save()
    org["sales_group"].admins.remove(org["tech_dev"])
    revoked = sync_derived_roles(acting_user=None)
    head_tech.refresh_from_db()
    group_admin.refresh_from_db()
    assert not head_tech.is_staff and not group_admin.is_staff
    assert set(revoked.staff_revoked) == {head_tech.pk, group_admin.pk}
    hr.refresh_from_db()
    assert hr.is_staff  # HR keeps the flag: it is not a derived role


def test_head_change_syncs_after_commit(org, head_tech, django_capture_on_commit_callbacks):
    ensure_roles()
    commit_pending()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        org["east"].head = org["tech_head"]
        org["east"].save()
        org["east"].save()
    assert len(callbacks) == 1  # once per transaction however many rows changed
    head_tech.refresh_from_db()
    assert head_tech.is_staff and "head_tech" in role_members(ROLE_DEPARTMENT_HEAD)
