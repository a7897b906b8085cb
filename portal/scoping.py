"""Who may see what: the one scoping mechanism behind every page, export, API call and admin list.

``scope_for(user)`` resolves a user's roles once per request (cached on the user object) through the
resolver the organisation app registers (``groups.scoping``); each
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
roster import sends no signals; see groups/accounts.py for the other checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext as _


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


def any_of(model, *conditions: Q, prefix: str = "") -> Q:
    """Rows of ``model`` matching any of ``conditions``, each a condition on ``model``'s own columns.

    One condition is used as it is (a semi-join the planner handles well); several become
    ``pk IN (SELECT id … WHERE c1 UNION SELECT id … WHERE c2)`` (``union_of``). ``prefix`` reaches
    ``model`` through a relation (``violation__``: sanctions of the visible violations).
    """
    if not conditions:
        return Q(pk__in=[])
    if len(conditions) == 1 and not prefix:
        return conditions[0]
    if len(conditions) == 1:
        return Q(**{f"{prefix}pk__in": model._default_manager.filter(conditions[0]).order_by().values("pk")})
    branches = [model._default_manager.filter(condition).values("pk") for condition in conditions]
    return Q(**{f"{prefix}pk__in": union_of(*branches)})


def union_of(*branches):
    """One id set from several single-table queries: ``SELECT id … UNION SELECT id …``.

    A scope is a union of reasons to see a row (the headed subtree, the administered groups, the own
    record). Written as one ``OR`` across joined tables, the planner cannot use an index for any
    branch and hash-joins every table; as ``pk IN (<branch> UNION <branch>)`` each branch is an index
    read of its own and the outer query a semi-join on the primary key. Each branch must select one
    column (``.values("pk")`` or a foreign key); empty branches are left out by the caller.
    """
    first, *rest = [branch.order_by() for branch in branches]
    return first.union(*rest) if rest else first


NOBODY = Scope()
_CACHE_ATTR = "_qungui_scope"
_resolver: Callable[[Any], Scope] | None = None


def register_resolver(resolver: Callable[[Any], Scope]) -> None:
    """Set the function that computes an authenticated, active user's scope from the organisation.

    The core knows what a scope is, not where roles come from: the organisation app registers
    ``groups.scoping.resolve_scope`` when it is ready, so this module imports no domain app.
    """
    global _resolver
    _resolver = resolver


def scope_for(user) -> Scope:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOBODY
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None:
        return cached
    if _resolver is None:
        raise ImproperlyConfigured("no scope resolver registered (groups.apps.GroupsConfig.ready registers it)")
    scope = _resolver(user)
    setattr(user, _CACHE_ATTR, scope)
    return scope


def reset_scope(user) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def require_hr(user) -> None:
    """Refuse anyone but an HR admin; ``None`` is a system job (seed, command, beat) and may proceed."""
    if user is not None and not scope_for(user).is_hr:
        raise PermissionDenied(_("只有人资管理员可以执行此操作。"))
