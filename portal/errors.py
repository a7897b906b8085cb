"""The portal's own 403 and 404 pages, in the user's language, also with DEBUG on (the demo).

``handler403``/``handler404`` (portal/urls.py) answer with ``portal/error.html``; under /api/ they
answer JSON as DRF does. With DEBUG on Django would show its technical 404 page (every URL pattern
listed): ``ErrorPageMiddleware`` answers an unknown path, and an ``Http404`` raised by a view, with the
portal's page instead. It sits after the session, locale and authentication middleware, so the page
is in the user's language and shows their navigation.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, get_resolver
from django.utils.translation import gettext as _

API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _api_error(exc) -> JsonResponse:
    """The API's one error body (``{"error": {...}}``, portal.api.exceptions), for paths DRF never saw."""
    from .api.exceptions import error_body

    return JsonResponse({"error": error_body(exc)}, status=exc.status_code, json_dumps_params={"ensure_ascii": False})


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        from rest_framework.exceptions import NotFound

        return _api_error(NotFound())
    context = {
        "status": 404,
        "heading": _("页面不存在"),
        "message": _("您访问的页面不存在,或已被移除。请检查地址是否正确。"),
    }
    return render(request, "portal/error.html", context, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        from rest_framework.exceptions import PermissionDenied

        return _api_error(PermissionDenied())
    context = {
        "status": 403,
        "heading": _("没有权限"),
        "message": _("您没有查看此页面的权限。如需访问,请联系人力资源部开通。"),
    }
    return render(request, "portal/error.html", context, status=403)


class ErrorPageMiddleware:
    """With DEBUG on, the portal's 404 page instead of Django's technical one (DEBUG off: handler404)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and not _resolves(request):
            return page_not_found(request)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if settings.DEBUG and isinstance(exception, Http404):
            return page_not_found(request, exception)
        return None


def _resolves(request: HttpRequest) -> bool:
    try:
        get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
    except Resolver404:
        return False
    return True


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for whatever the page links: the static file, cached a day."""
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.storage import staticfiles_storage

    found = finders.find("favicon.ico")
    if found:
        with open(found, "rb") as handle:
            content = handle.read()
    else:  # a deployment with only the collected files
        with staticfiles_storage.open("favicon.ico") as handle:
            content = handle.read()
    response = HttpResponse(content, content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
