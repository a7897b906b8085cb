"""Admin building blocks shared by every app: scoped querysets and scoped exports.

The department-subtree list filter is the organisation's: ``groups.admin_filters``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import Http404
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:  # combined with a ModelAdmin (and django-import-export's ExportMixin) only
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class ScopedAdminMixin(_AdminBase):
    """Admin lists, change pages, exports and autocompletes start from ``visible_to(user)``.

    Guessing an id outside the user's scope answers 404 — the same as an id that does not exist, so
    the answer tells nothing about other departments' data.
    """

    def get_queryset(self, request):
        qs: Any = super().get_queryset(request)  # the scoped managers' QuerySet
        return qs.visible_to(request.user)

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(_("没有找到该记录,或您无权查看。"))
        return obj

    def get_export_queryset(self, request):
        # django-import-export builds its own queryset from the changelist; intersect anyway so
        # an export can never leave the user's scope.
        return super().get_export_queryset(request).visible_to(request.user)  # type: ignore[misc]
