"""Admin list filters of the organisation, used by every app's admin: a department and its subtree."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import Department


class DepartmentSubtreeListFilter(admin.SimpleListFilter):
    """Filter by a department and everything below it (the path prefix of the tree)."""

    title = _("部门(含下级)")
    parameter_name = "dept"
    field_path = "department__path"

    def lookups(self, request, model_admin):
        qs = Department.objects.visible_to(request.user).only("pk", "name", "depth")
        return [(str(d.pk), "\u3000" * (d.depth - 1) + d.name) for d in qs]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        dept = Department.objects.visible_to(request.user).filter(pk=value).first()
        if dept is None:
            return queryset.none()
        return queryset.filter(**{f"{self.field_path}__startswith": dept.path})


def subtree_filter(field_path: str, title=None) -> type[DepartmentSubtreeListFilter]:
    """A DepartmentSubtreeListFilter over another relation, e.g. ``employee__department__path``."""
    attrs = {"field_path": field_path, "parameter_name": field_path.replace("__path", "").replace("__", "_")}
    if title is not None:
        attrs["title"] = title
    return type("SubtreeFilter", (DepartmentSubtreeListFilter,), attrs)
