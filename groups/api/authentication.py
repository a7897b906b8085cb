"""API token authentication that ends with employment.

DRF's ``TokenAuthentication`` plus the check of ``groups.accounts``: a token of a departed
employee answers 401 even if it was never deleted. (Its own module: DRF imports authentication
classes while loading its views, so this one must not import views.)
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from ..accounts import is_departed


class EmployedTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>``; refused for inactive users and for departed employees."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = model.objects.select_related("user__employee").get(key=key)
        except model.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("令牌无效。")) from None
        if not token.user.is_active or is_departed(token.user):
            raise exceptions.AuthenticationFailed(_("账号已停用。"))
        return (token.user, token)
