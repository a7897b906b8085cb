"""Admin building blocks shared by every app: scoped querysets and scoped exports.

The department-subtree list filter is the organisation's: ``groups.admin_filters``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.http import Http404
from django.utils.translation import gettext_lazy as _

from .admin_site import picker_label

if TYPE_CHECKING:  # combined with a ModelAdmin (and django-import-export's ExportMixin) only
    _AdminBase = admin.ModelAdmin
else:
    _AdminBase = object


class ReadOnlyAdminMixin(_AdminBase):
    """An admin that shows the record and never writes it: no add, change or delete for anyone.

    For what is the record (audit entries, import jobs, computed deductions, messages, restrictions
    written by services): changes go through the services and actions, never the admin form.
    """

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class UnfilterableFieldsMixin(_AdminBase):
    """The list's URL cannot filter on ``unfilterable_fields`` (``?text__icontains=…``).

    Django's admin accepts a lookup on any of the model's own fields in the query string. On a
    message body that makes the list an oracle: a body can be recovered letter by letter, without
    opening the message, so without the audited access a reading is (``docs/chat-formats.md``). A
    refused lookup answers as Django's admin answers any disallowed one (400)."""

    unfilterable_fields: tuple[str, ...] = ()

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split("__", 1)[0] in self.unfilterable_fields:
            return False
        return super().lookup_allowed(lookup, value, request)


class PickerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return picker_label(obj)


class PickerMultipleChoiceField(forms.ModelMultipleChoiceField):
    label_from_instance = PickerChoiceField.label_from_instance


class PickerLabelMixin(_AdminBase):
    """Selects and autocompletes of a related model with a ``picker_label`` show that label
    (the autocomplete's options come with it from ``portal.admin_site``)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if hasattr(db_field.related_model, "picker_label"):
            kwargs.setdefault("form_class", PickerChoiceField)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if hasattr(db_field.related_model, "picker_label"):
            kwargs.setdefault("form_class", PickerMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class ScopedAdminMixin(PickerLabelMixin, _AdminBase):
    """Admin lists, change pages, exports and autocompletes start from ``visible_to(user)``.

    Their pickers show a related model's ``picker_label`` (``PickerLabelMixin``).
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
