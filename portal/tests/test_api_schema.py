"""OpenAPI schema and the docs pages: valid, complete, served without any CDN; one error body shape."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient

from portal.api.exceptions import error_body, exception_handler
from portal.api.testing import FAST_HASHERS, api_for


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


def test_schema_validates_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", stdout=out)
    assert '"/api/v1/employees/{id}/"' in out.getvalue()


def test_schema_documents_every_operation_and_its_errors(outsider_user):
    schema = api_for(outsider_user).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"/api/v1/departments/", "/api/v1/employees/", "/api/v1/groups/", "/api/v1/memberships/"} <= set(paths)
    assert "/api/v1/auth/token/" in paths
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert {"400", "429"} <= set(operation["responses"]), (method, path)
            if path != "/api/v1/auth/token/":
                assert {"401", "403", "404"} <= set(operation["responses"]), (method, path)
    employee = schema["components"]["schemas"]["Employee"]["properties"]
    assert "user" not in employee and "has_login" in employee
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]


def test_schema_needs_a_login(db):
    """The schema lists every endpoint and field: anonymous callers get a 401 in the API's error shape."""
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated" and "paths" not in response.json()


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_send_anonymous_browsers_to_the_login_page(db, client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"] == f"/login/?next={url}"


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_load_everything_from_the_portal(client, outsider_user, url):
    client.force_login(outsider_user)
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/schema/" in html
    referenced = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert referenced, html
    for ref in referenced:
        assert ref.startswith("/static/") or ref.startswith("/api/"), ref
        if ref.startswith("/static/"):
            assert finders.find(ref.removeprefix("/static/")), ref
    assert "googleapis" not in html and "cdn" not in html.lower()


def test_docs_script_loads_from_the_portal(client, outsider_user):
    client.force_login(outsider_user)
    script = client.get("/api/docs/").content.decode()
    assert re.search(r'src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.js"', script)


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("get", "/api/v1/employees/", 401, "not_authenticated"),
        ("get", "/api/v1/employees/987654/", 404, "not_found"),
        ("put", "/api/v1/departments/1/", 405, "method_not_allowed"),
        ("post", "/api/v1/employees/", 400, "invalid"),
    ],
)
def test_every_error_has_the_same_shape(org, hr, method, url, status, code):
    client = api_for(hr) if status != 401 else APIClient()
    response = getattr(client, method)(url, {}, format="json")
    assert response.status_code == status
    body = response.json()
    assert list(body) == ["error"] and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code and body["error"]["message"]


def test_malformed_json_is_a_parse_error(org, hr):
    response = api_for(hr).generic("POST", "/api/v1/employees/", "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"


def test_handler_leaves_server_errors_to_django():
    assert exception_handler(RuntimeError("boom"), {}) is None


def test_validation_error_list_goes_under_non_field_errors():
    from rest_framework.exceptions import ValidationError

    assert error_body(ValidationError(["bad"]))["fields"] == {"non_field_errors": ["bad"]}
