"""Where roles come from: the organisation's answer to "what may this user see?" (``portal.scoping``).

Registered with the core by ``GroupsConfig.ready``; ``portal.scoping.scope_for`` caches the result
per request.
"""

from __future__ import annotations

from django.conf import settings

from portal.scoping import NOBODY, Scope

from .choices import EmployeeStatus
from .models import ChatGroup, Department, Employee


def resolve_scope(user) -> Scope:
    """The scope of an authenticated, active user: HR and auditors see everything; others what they
    head, own or administer, and their own record."""
    role_names = set(user.groups.values_list("name", flat=True))
    is_hr = user.is_superuser or settings.ROLE_HR_ADMIN in role_names
    is_auditor = settings.ROLE_AUDITOR in role_names
    employee = Employee.objects.filter(user=user).only("pk", "status").first()
    if employee is not None and employee.status != EmployeeStatus.ACTIVE:
        return NOBODY  # roles come from active employment only, HR's and auditors' too
    if is_hr or is_auditor:
        return Scope(
            everything=True,
            read_only=not is_hr,
            is_hr=is_hr,
            is_auditor=is_auditor,
            employee_id=employee.pk if employee else None,
        )
    if employee is None:
        return NOBODY
    headed = list(Department.objects.filter(head=employee).values_list("pk", "path"))
    # A path that lies inside another headed path adds nothing: keep the roots only.
    roots = sorted({path for _, path in headed})
    roots = [p for p in roots if not any(p != q and p.startswith(q) for q in roots)]
    dept_ids = frozenset()
    if roots:
        subtree_q = Scope(dept_paths=tuple(roots)).department_q()
        dept_ids = frozenset(Department.objects.filter(subtree_q).values_list("pk", flat=True))
    # Owned or administered: a UNION of two index reads (owner_id, the admins table's employee_id),
    # not an OR across a join to the admins table, which read every group on every request.
    owned = ChatGroup.objects.filter(owner=employee).order_by().values_list("pk", flat=True)
    administered = (
        ChatGroup.admins.through.objects.filter(employee=employee).order_by().values_list("chatgroup_id", flat=True)
    )
    group_ids = frozenset(owned.union(administered))
    return Scope(
        everything=False,
        read_only=True,
        dept_paths=tuple(roots),
        dept_ids=dept_ids,
        group_ids=group_ids,
        employee_id=employee.pk,
    )
