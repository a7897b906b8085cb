"""Who may write through the API: HR admins only. Everyone else reads within their scope."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal.scoping import scope_for


class HRWritesOthersRead(BasePermission):
    """Reads for any signed-in user (the queryset scopes them); writes for HR admins only.

    Auditors see everything and change nothing; department heads, group admins and employees
    read what ``visible_to`` gives them.
    """

    message = _("只有HR管理员可以修改数据。")

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return scope_for(request.user).is_hr
