"""One error body for every failure: ``{"error": {"code": ..., "message": ..., "fields": {...}}}``.

DRF's default bodies differ by exception (``{"detail": ...}``, a field dict, a list); clients would
need one parser per status. ``fields`` is present (possibly empty) so a client can always read it.
"""

from __future__ import annotations

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(exceptions.APIException):
    """The request is valid but clashes with the data as it is (a referenced row, a concurrent write)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = _("该操作与现有数据冲突。")
    default_code = "conflict"

    def __init__(self, detail=None, code=None, *, extra: dict | None = None):
        super().__init__(detail, code)
        self.extra = extra or {}  # more keys of the error object, e.g. the records it clashes with


class LockedOut(exceptions.Throttled):
    """Too many failed logins for this username (django-axes)."""

    default_detail = _("登录失败次数过多,账号已被暂时锁定,请稍后再试。")
    default_code = "locked_out"


def django_error_detail(exc: DjangoValidationError):
    """A Django ValidationError as DRF detail, with model-wide errors under ``non_field_errors``."""
    detail = get_error_detail(exc)
    if isinstance(detail, dict) and NON_FIELD_ERRORS in detail:
        detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
    return detail


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(django_error_detail(exc))
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return Conflict(_("该记录仍被其他数据引用,不能删除。"), code="protected")
    if isinstance(exc, IntegrityError):
        return Conflict(_("数据已被同时修改或与已有记录重复,请刷新后重试。"))
    return exc


def error_body(exc: exceptions.APIException) -> dict:
    """The ``error`` object for an APIException."""
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        return {"code": "invalid", "message": str(_("提交的数据有误,请检查标出的字段。")), "fields": fields}
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return {"code": code, "message": str(exc.detail), "fields": {}, **getattr(exc, "extra", {})}


def exception_handler(exc: Exception, context: dict):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's handling, then the one body shape."""
    exc = _translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error: let Django log it and answer 500
    if isinstance(exc, exceptions.APIException):  # always, once _translate ran: DRF answers only those
        response.data = {"error": error_body(exc)}
    return response
