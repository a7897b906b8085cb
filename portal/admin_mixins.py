"""Admin building blocks shared by every app: scoped querysets and scoped exports."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from groups.models import Department


class ScopedAdminMixin:
    """Admin lists, change pages, exports and autocompletes start from ``visible_to(user)``.

    Guessing an id outside the user's scope answers 404 — the same as an id that does not exist, so
    the answer tells nothing about other departments' data.
    """

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs.visible_to(request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("没有找到该记录,或您无权查看。"))
        return obj

    def get_export_queryset(self, request):
        # django-import-export builds its own queryset from the changelist; intersect anyway so
        # an export can never leave the user's scope.
        return super().get_export_queryset(request).visible_to(request.user)


class DepartmentSubtreeFilter(admin.SimpleListFilter):
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


def subtree_filter(field_path: str, title=None) -> type[DepartmentSubtreeFilter]:
    """A DepartmentSubtreeFilter over another relation, e.g. ``employee__department__path``."""
    attrs = {"field_path": field_path, "parameter_name": field_path.replace("__path", "").replace("__", "_")}
    if title is not None:
        attrs["title"] = title
    return type("SubtreeFilter", (DepartmentSubtreeFilter,), attrs)
