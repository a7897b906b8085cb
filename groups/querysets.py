"""Reads and scoping for the organisation models. Every list starts from ``visible_to(user)``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portal.scoping import scope_for, union_of


class DepartmentScopeMixin:
    def subtree(self, department) -> models.QuerySet:
        """The department and all its descendants: one indexed prefix match on the tree path."""
        return self.filter(path__startswith=department.path)

    def visible_to(self, user) -> models.QuerySet:
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(pk__in=scope.dept_ids)


class EmployeeQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status="active")

    def departed(self):
        return self.filter(status="departed")

    def in_subtree(self, department):
        return self.filter(department__path__startswith=department.path)

    def visible_to(self, user):
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        from .models import Membership

        branches = []
        if scope.dept_ids or scope.employee_id:
            mine = Q(department_id__in=scope.dept_ids) | Q(pk__in=[scope.employee_id] if scope.employee_id else [])
            branches.append(self.model._default_manager.filter(mine).values("pk"))
        if scope.group_ids:
            branches.append(
                Membership.objects.filter(group_id__in=scope.group_ids, employee__isnull=False).values("employee_id")
            )
        if not branches:
            return self.none()
        return self.filter(pk__in=union_of(*branches))


class ChatGroupQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status="active")

    def in_subtree(self, department):
        return self.filter(department__path__startswith=department.path)

    def visible_to(self, user):
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        return self.filter(Q(department_id__in=scope.dept_ids) | Q(pk__in=scope.group_ids))

    def administered_by(self, user):
        """The groups ``user`` may act on as their admin: HR all of them; an owner or admin their own
        (``Scope.group_ids``); anyone else (auditors, department heads as such) none."""
        scope = scope_for(user)
        if scope.is_hr:
            return self.all()
        return self.filter(pk__in=scope.group_ids)


class MembershipQuerySet(models.QuerySet):
    def open(self):
        return self.filter(left_at__isnull=True)

    def outsiders(self):
        return self.filter(employee__isnull=True)

    def visible_to(self, user):
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        from .models import ChatGroup, Employee

        # Two reasons, both on the membership's own columns: ``group_id IN (…) OR employee_id IN (…)``,
        # two hashed id sets probed per row, so a list walks its ordering's index and stops at the
        # page (a head's first page 52 ms at 1M memberships). Not any_of's pk IN (… UNION …): that
        # materialises the whole visible set (109k ids) and hash-joins it to the table (3.8 s).
        conditions = []
        if scope.dept_ids or scope.group_ids:
            groups = ChatGroup.objects.filter(Q(department_id__in=scope.dept_ids) | Q(pk__in=scope.group_ids))
            conditions.append(Q(group_id__in=groups.order_by().values("pk")))
        if scope.dept_ids or scope.employee_id:
            own = [scope.employee_id] if scope.employee_id else []
            people = Employee.objects.filter(Q(department_id__in=scope.dept_ids) | Q(pk__in=own))
            conditions.append(Q(employee_id__in=people.order_by().values("pk")))
        if not conditions:
            return self.none()
        query = conditions[0]
        for condition in conditions[1:]:
            query |= condition
        return self.filter(query)


class ImportJobQuerySet(models.QuerySet):
    def visible_to(self, user):
        """HR admins and auditors: every import job; anyone else: the jobs they uploaded."""
        scope = scope_for(user)
        if scope.everything:
            return self.all()
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(created_by=user)
