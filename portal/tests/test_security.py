"""Production settings, Content Security Policy and login protection."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.conf import settings as django_settings
from django.contrib import admin
from django.urls import reverse

BASE_DIR = Path(__file__).resolve().parents[2]
PASSWORD = "pw-Qungui-2026!"  # conftest._user


def _manage(*args: str, extra_env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    # A clean environment: nothing from the test run (DATABASE_URL, DJANGO_ALLOW_ASYNC_UNSAFE, …) leaks in.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    env.update({"QUNGUI_VAR_DIR": str(tmp_path), "LOG_LEVEL": "WARNING", **extra_env})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


PROD_ENV = {"DEBUG": "0", "ALLOWED_HOSTS": "qungui.example.com"}


def test_check_deploy_has_no_warnings(tmp_path):
    env = {**PROD_ENV, "SECRET_KEY": secrets.token_urlsafe(50)}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", extra_env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "qungui.example.com"}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": "qungui.example.com", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": secrets.token_urlsafe(50)}, "ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_to_start_without_key_or_hosts(tmp_path, env, message):
    result = _manage("check", extra_env={"DEBUG": "0", **env}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_security_settings(tmp_path):
    env = {**PROD_ENV, "SECRET_KEY": secrets.token_urlsafe(50)}
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_PROXY_SSL_HEADER, s.SESSION_SAVE_EVERY_REQUEST, s.LOG_FORMAT,"
        " s.STORAGES['staticfiles']['BACKEND'].rsplit('.', 1)[-1],"
        " 'upgrade-insecure-requests' in s.CONTENT_SECURITY_POLICY['DIRECTIVES'])"
    )
    result = _manage("shell", "-c", code, extra_env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == [
        "True",
        "True",
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
        "json",
        "CompressedManifestStaticFilesStorage",
        "True",
    ]


# --- Content Security Policy ------------------------------------------------------------------


class InlineCollector(HTMLParser):
    """Inline scripts, <style> blocks, style= and on*= attributes, javascript: URLs of one page."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.style_attrs: list[str] = []
        self.handlers: list[str] = []
        self.js_urls: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        script_type = (attrs.get("type") or "text/javascript").lower()
        if tag == "script" and "src" not in attrs and "json" not in script_type:
            self._in = "script"
            self.scripts.append("")
        elif tag == "style":
            self._in = "style"
            self.styles.append("")
        if "style" in attrs:
            self.style_attrs.append(attrs["style"] or "")
        self.handlers += [value or "" for name, value in attrs.items() if name.startswith("on")]
        self.js_urls += [v for v in attrs.values() if v and v.strip().lower().startswith("javascript:")]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "style":
            self.styles[-1] += data


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {part[0]: part[1:] for part in parts}


def assert_page_satisfies_csp(response) -> None:
    policy = _directives(response["Content-Security-Policy"])
    page = InlineCollector()
    page.feed(response.content.decode())
    url = response.request["PATH_INFO"]
    assert not page.scripts, f"{url}: inline <script> {page.scripts[0][:80]!r}"
    assert not page.js_urls, f"{url}: javascript: URL {page.js_urls}"
    for handler in page.handlers:
        assert "'unsafe-hashes'" in policy["script-src"], f"{url}: inline event handler {handler!r}"
        assert _sha256(handler) in policy["script-src"], f"{url}: inline event handler {handler!r} not allowed"
    allowed = set(policy["style-src"])
    for css in page.styles + page.style_attrs:
        assert _sha256(css) in allowed, f"{url}: inline style {css[:60]!r} is not allowed by the CSP"


def test_csp_header_forbids_inline_script(client, db):
    response = client.get(reverse("login"))
    policy = _directives(response["Content-Security-Policy"])
    # No nonce on pages that use none, no 'unsafe-inline'; only the hashed handlers of settings.
    assert policy["script-src"] == ["'self'", "'unsafe-hashes'", *django_settings.CSP_INLINE_HANDLER_HASHES]
    assert "'unsafe-inline'" not in policy["style-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert_page_satisfies_csp(response)


def _admin_urls() -> list[str]:
    urls = [reverse("admin:index"), reverse("admin:password_change")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        urls.append(reverse("admin:{}_{}_changelist".format(*info)))
        if model_admin.has_add_permission.__func__ is admin.ModelAdmin.has_add_permission:
            urls.append(reverse("admin:{}_{}_add".format(*info)))
        for name in ("export", "import"):
            if hasattr(model_admin, f"{name}_action") or hasattr(model_admin, f"{name}_admin_action"):
                try:
                    urls.append(reverse(f"admin:{info[0]}_{info[1]}_{name}"))
                except Exception:  # noqa: S112  the model's admin has no such page
                    continue
    return urls


def test_our_pages_and_the_admin_satisfy_the_csp(client, hr, org):
    hr.is_superuser = True  # every admin page, not just HR's
    hr.save()
    client.force_login(hr)
    employee = org["east_rep"]
    employee.name = "张三丰"
    employee.save()  # gives the history page an entry
    urls = [reverse("dashboard"), *_admin_urls()]  # "home" redirects HR to the dashboard
    urls += [
        reverse("admin:groups_employee_change", args=[employee.pk]),
        reverse("admin:groups_employee_history", args=[employee.pk]),
        reverse("admin:groups_chatgroup_change", args=[org["sales_group"].pk]),
        reverse("admin:groups_department_change", args=[org["sales"].pk]),
    ]
    checked = 0
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_page_satisfies_csp(response)
        checked += 1
    assert checked >= 10


def test_inline_style_hashes_in_settings_match_the_installed_templates():
    """A library upgrade that changes one of the allowed inline styles must fail here, not in browsers."""
    sources = {
        "django.contrib.admin": ("admin/change_list.html", r"<style>(.*?)</style>"),
        "auditlog": ("auditlog/object_history.html", r"<style[^>]*>(.*?)</style>"),
        "import_export": ("admin/import_export/export.html", r'style="([^"]*)"'),
    }
    handlers = re.findall(
        r'\son\w+="([^"]*)"',
        (Path(apps.get_app_config("import_export").path) / "templates/admin/import_export/export.html").read_text(),
    )
    assert sorted(map(_sha256, handlers)) == sorted(django_settings.CSP_INLINE_HANDLER_HASHES)
    found = []
    for app, (template, pattern) in sources.items():
        text = (Path(apps.get_app_config(app.rsplit(".", 1)[-1]).path) / "templates" / template).read_text()
        found += [_sha256(match) for match in re.findall(pattern, text, re.S)]
    assert sorted(found) == sorted(django_settings.CSP_INLINE_STYLE_HASHES)


# --- Login protection (django-axes) -----------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 at full strength costs ~1 s per login here; the lockout logic does not depend on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_five_failures_lock_the_account_even_with_the_right_password(client, hr, employee_user):
    for _ in range(5):
        response = _login(client, "hr", "wrong-password")
        assert "_auth_user_id" not in client.session
    response = _login(client, "hr", PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # Locked per username, not per IP: a colleague behind the same office NAT still logs in.
    assert _login(client, "employee", PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(employee_user.pk)


def test_lockout_ends_after_the_cool_off(client, hr):
    for _ in range(5):
        _login(client, "hr", "wrong-password")
    assert _login(client, "hr", PASSWORD).status_code == 429
    cool_off = timedelta(hours=django_settings.AXES_COOLOFF_TIME)
    for attempt in AccessAttempt.objects.filter(username="hr"):
        attempt.attempt_time -= cool_off + timedelta(seconds=1)
        attempt.save(update_fields=["attempt_time"])
    response = _login(client, "hr", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(hr.pk)


def test_four_failures_do_not_lock(client, hr):
    for _ in range(4):
        _login(client, "hr", "wrong-password")
    assert _login(client, "hr", PASSWORD).status_code == 302


def test_password_validators_reject_weak_passwords(hr):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ("12345678901", "password123", "short"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=hr)
    validate_password("Qungui-strong-2026-pass", user=hr)
