"""Who may see what: the one scoping mechanism behind every page, export, API call and admin list.

``scope_for(user)`` resolves a user's roles once per request (cached on the user object); each
model's queryset has ``visible_to(user)``, built from that scope, and every place data leaves starts
from it. Roles:

- HR admin (auth group ``HR管理员``) and superusers: everything, may change.
- Auditor (auth group ``审计``): everything, read-only.
- Department head: the departments they head (``Department.head``) and all sub-departments.
- Group owner / admin: the groups they own or administer (rosters, findings, violations there).
- Employee: their own record.
A person may hold several roles; the visible set is the union.

Roles come from active employment only: a login linked to a departed employee (离职) has no scope at
all, whatever auth groups or ``Department.head`` / group-admin links are still left over (a bulk
roster import sends no signals; see portal/accounts.py for the other checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    read_only: bool = True
    is_hr: bool = False
    is_auditor: bool = False
    dept_paths: tuple[str, ...] = ()
    dept_ids: frozenset[int] = field(default_factory=frozenset)
    group_ids: frozenset[int] = field(default_factory=frozenset)
    employee_id: int | None = None

    @property
    def is_department_head(self) -> bool:
        return bool(self.dept_paths)

    @property
    def is_group_admin(self) -> bool:
        return bool(self.group_ids)

    def department_q(self, prefix: str = "") -> Q:
        """Q matching rows whose department (reached through ``prefix``) lies in a headed subtree."""
        query = Q(pk__in=[])
        for path in self.dept_paths:
            query |= Q(**{f"{prefix}path__startswith": path})
        return query


NOBODY = Scope()
_CACHE_ATTR = "_qungui_scope"


def scope_for(user) -> Scope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOBODY
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    scope = _compute(user)
    setattr(user, _CACHE_ATTR, scope)
    return scope


def reset_scope(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _compute(user) -> Scope:
    from groups.choices import EmployeeStatus
    from groups.models import ChatGroup, Department, Employee

    role_names = set(user.groups.values_list("name", flat=True))
    is_hr = user.is_superuser or settings.ROLE_HR_ADMIN in role_names
    is_auditor = settings.ROLE_AUDITOR in role_names
    employee = Employee.objects.filter(user=user).only("pk", "status").first()
    if employee is not None and employee.status != EmployeeStatus.ACTIVE:
        return NOBODY
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
    group_ids = frozenset(
        ChatGroup.objects.filter(Q(owner=employee) | Q(admins=employee)).values_list("pk", flat=True).distinct()
    )
    return Scope(
        everything=False,
        read_only=True,
        dept_paths=tuple(roots),
        dept_ids=dept_ids,
        group_ids=group_ids,
        employee_id=employee.pk,
    )
