"""The portal's own 403 and 404 pages: in the user's language, with a link home, also with DEBUG on
(no technical page listing the URL patterns); the API keeps answering JSON. And /favicon.ico."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

TEXT = {
    "zh-hans": {404: "页面不存在", 403: "没有权限", "home": "返回首页"},
    "en": {404: "Page not found", 403: "Permission denied", "home": "Back to the home page"},
}
TECHNICAL = ("URLconf", "Using the URLconf", "technical", "Django tried these URL patterns", "Traceback")


def check_page(response, status: int, lang: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    body = response.content.decode()
    assert TEXT[lang][status] in body and TEXT[lang]["home"] in body
    assert f'<html lang="{lang}">' in body  # the portal's base template, in that language
    assert 'class="topbar"' in body and 'href="/"' in body
    for word in TECHNICAL:
        assert word not in body
    return body


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_unknown_page(client, debug, lang):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=lang)
    check_page(response, 404, lang)


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_not_found_raised_by_a_view(client, debug, lang, head_tech, org):
    client.force_login(head_tech)  # another head's department: 404, as for an id that does not exist
    response = client.get(reverse("dashboard"), {"dept": org["sales"].pk}, HTTP_ACCEPT_LANGUAGE=lang)
    body = check_page(response, 404, lang)
    assert "退出" in body or "Log out" in body  # the signed-in user's navigation


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_permission_denied(client, debug, lang, employee_user):
    client.force_login(employee_user)
    response = client.get(reverse("dashboard"), HTTP_ACCEPT_LANGUAGE=lang)
    check_page(response, 403, lang)


def test_admin_not_found(client, debug, hr):
    client.force_login(hr)
    check_page(client.get("/admin/no-such-app/"), 404, "zh-hans")


def test_language_cookie_wins(client, debug, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    check_page(client.get("/nowhere"), 404, "en")


def test_append_slash_still_redirects(client, debug, hr):
    client.force_login(hr)
    response = client.get("/admin")
    assert response.status_code == 301 and response["Location"] == "/admin/"


def test_api_errors_stay_json(client, debug, hr, employee_user):
    missing = client.get("/api/no-such-endpoint/")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["error"]["code"] == "not_found"  # the API's one error shape, also off its routes
    client.force_login(hr)
    detail = client.get("/api/v1/employees/999999/")
    assert detail.status_code == 404 and detail["Content-Type"].startswith("application/json")
    client.force_login(employee_user)
    forbidden = client.post("/api/v1/employees/", {}, content_type="application/json")
    assert forbidden.status_code == 403 and forbidden["Content-Type"].startswith("application/json")


def test_favicon(client, debug):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    login = client.get(reverse("login")).content.decode()
    assert 'rel="icon" href="/static/favicon.ico"' in login


def test_admin_links_the_favicon(client, hr):
    client.force_login(hr)
    assert 'rel="icon" href="/static/favicon.ico"' in client.get(reverse("admin:index")).content.decode()
