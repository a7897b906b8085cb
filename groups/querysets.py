"""Reads and scoping for the organisation models. Every list starts from ``visible_to(user)``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from portal.scoping import scope_for


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
        query = Q(department_id__in=scope.dept_ids)
        if scope.group_ids:
            from .models import Membership

            query |= Q(pk__in=Membership.objects.filter(group_id__in=scope.group_ids).values("employee_id"))
        if scope.employee_id:
            query |= Q(pk=scope.employee_id)
        return self.filter(query)


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
        query = (
            Q(group__department_id__in=scope.dept_ids)
            | Q(group_id__in=scope.group_ids)
            | Q(employee__department_id__in=scope.dept_ids)
        )
        if scope.employee_id:
            query |= Q(employee_id=scope.employee_id)
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
