"""The portal's admin site: Django's, with pickers that show what a model says HR should read.

A model may define a ``picker_label`` property (``groups.Employee``: 张三(E0102) · 销售部/华东区 ·
离职); the admin's autocomplete answers it as the option's text, and the admin's select and
autocomplete fields (``portal.admin_mixins.PickerLabelMixin``) show the same label for the
selected value. Installed as the default site by ``PortalAdminConfig`` (settings.INSTALLED_APPS).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.contrib.admin.views.autocomplete import AutocompleteJsonView


def picker_label(obj) -> str:
    label = getattr(obj, "picker_label", None)
    return label if isinstance(label, str) else str(obj)


class PickerAutocompleteJsonView(AutocompleteJsonView):
    def serialize_result(self, obj, to_field_name):
        return {**super().serialize_result(obj, to_field_name), "text": picker_label(obj)}


class PortalAdminSite(admin.AdminSite):
    def autocomplete_view(self, request):
        return PickerAutocompleteJsonView.as_view(admin_site=self)(request)


class PortalAdminConfig(AdminConfig):
    default_site = "portal.admin_site.PortalAdminSite"
