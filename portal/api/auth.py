"""Token login for API clients, guarded like the login page.

DRF's own ObtainAuthToken is not covered by django-axes (PITFALLS.md): axes watches Django's
``authenticate()`` only when given the Django request, and its middleware answers lockouts with
its own page. Here the attempt goes through ``authenticate(request=...)`` so axes counts failures
per username and refuses locked accounts, the view adds DRF's "login" throttle per client IP,
and a lockout answers in the API's error shape.
"""

from __future__ import annotations

from axes.helpers import get_cool_off
from django.contrib.auth import authenticate, user_logged_in
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from .exceptions import LockedOut


class TokenLoginSerializer(serializers.Serializer):
    username = serializers.CharField(label=_("用户名"), max_length=150)
    password = serializers.CharField(
        label=_("密码"), max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(label=_("令牌"), help_text=_("以 “Authorization: Token <令牌>” 发送"))


def authenticate_for_token(http_request, *, username: str, password: str):
    """The user for these credentials, counted by django-axes; raises LockedOut or ValidationError."""
    user = authenticate(request=http_request, username=username, password=password)
    if getattr(http_request, "axes_locked_out", False):
        # Answer in the API's error shape instead of AxesMiddleware's lockout page.
        http_request.axes_locked_out = False
        cool_off = get_cool_off(http_request)
        raise LockedOut(wait=cool_off.total_seconds() if cool_off else None)
    if user is None:
        raise serializers.ValidationError({"non_field_errors": [_("用户名或密码错误。")]}, code="authorization")
    # A token is a login: axes resets the failure count, Django records last_login.
    user_logged_in.send(sender=type(user), request=http_request, user=user)
    return user


class ObtainTokenView(APIView):
    """POST a username and password, receive the user's API token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(operation_id="auth_token_create", request=TokenLoginSerializer, responses=TokenSerializer, auth=[])
    def post(self, request):
        given = TokenLoginSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        user = authenticate_for_token(request._request, **given.validated_data)
        token, _created = Token.objects.get_or_create(user=user)
        return Response(TokenSerializer({"token": token.key}).data)
