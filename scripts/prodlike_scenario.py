"""The scenario that scripts/prodlike.sh runs against gunicorn + Celery worker + beat (DEBUG off).

Talks HTTP to PRODLIKE_BASE_URL as a browser behind the TLS-terminating proxy would (see
prodlike_http.Browser): production probes, login, pages, static files, then a whole month over HTTP
(scripts/prodlike_month.py): the operator's superuser creates HR's account in the admin; HR imports
the employee roster and the group roster (upload → preview → confirm, on the worker), queues a
reconciliation, records violations that climb the ladder, computes the month's deductions on the
worker and downloads the month's report (CSV, and XLSX built by the worker); then 立即同步 against the
local WeCom server, run by the worker, finds a departed member (scripts/prodlike_wecom.py). Uses the Django ORM
(same environment) only to send one task to the worker directly.
Exits non-zero at the first failed check.
"""

from __future__ import annotations

import os
import re
import time

import django
import prodlike_month
import prodlike_wecom
import requests
from prodlike_http import BASE, ORIGIN, Browser, check


def probes() -> None:
    health = requests.get(f"{BASE}/healthz", timeout=5)
    check(health.status_code == 200 and health.text == "ok", "/healthz 200 ok over plain HTTP")
    ready = requests.get(f"{BASE}/readyz", timeout=10)
    check(ready.status_code == 200, f"/readyz 200 {ready.text}")
    check(ready.json()["checks"] == {"database": "ok", "redis": "ok", "migrations": "ok"}, "/readyz checks all ok")
    redirect = requests.get(f"{BASE}/login/", allow_redirects=False, timeout=5)
    check(redirect.status_code == 301 and redirect.headers["Location"].startswith("https://"), "plain HTTP → HTTPS")


def login(session: Browser, username: str, password: str) -> requests.Response:
    page = session.get(f"{BASE}/login/", timeout=10)
    check(page.status_code == 200, "login page")
    check("Content-Security-Policy" in page.headers, "CSP header on the login page")
    check("max-age=31536000" in page.headers.get("Strict-Transport-Security", ""), "HSTS header")
    token = session.cookies.get("csrftoken")
    check(bool(token), "CSRF cookie set")
    data = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    response = session.post(f"{BASE}/login/", data=data, headers={"Origin": ORIGIN}, timeout=60, allow_redirects=False)
    check(response.status_code == 302, f"login accepted ({response.status_code})")
    cookie = response.headers.get("Set-Cookie", "")
    check("sessionid=" in cookie and "Secure" in cookie and "HttpOnly" in cookie, "session cookie Secure, HttpOnly")
    return response


def pages(session: Browser) -> str:
    home = session.get(f"{BASE}/", timeout=10)
    check(home.status_code == 200 and "演示HR" in home.text, "home page as HR")
    check(len(home.headers.get("X-Request-ID", "")) == 32, "X-Request-ID on responses")
    for path in ("/admin/", "/admin/groups/employee/", "/admin/groups/chatgroup/", "/admin/groups/department/"):
        response = session.get(f"{BASE}{path}", timeout=20)
        check(response.status_code == 200, f"{path} 200")
    return home.text


def static_files(session: Browser, html: str) -> None:
    match = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', html)
    check(match is not None, "home page links the hashed portal.css")
    css = session.get(f"{BASE}{match.group(1)}", timeout=10)
    check(css.status_code == 200 and "text/css" in css.headers["Content-Type"], f"{match.group(1)} served")
    check("immutable" in css.headers.get("Cache-Control", ""), "hashed static file cached as immutable")
    admin_html = session.get(f"{BASE}/admin/", timeout=10).text
    admin_css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', admin_html)
    check(admin_css is not None and session.get(f"{BASE}{admin_css.group(1)}").status_code == 200, "admin css")
    check(session.get(f"{BASE}/static/css/portal.css", timeout=5).status_code == 200, "unhashed name still served")


SCENARIO_REQUEST_ID = "prodlike-scenario-0001"


def worker_round_trip() -> None:
    from portal.celery import app
    from portal.logging import request_id_var

    # Sent as if from a web request: the worker's log lines must carry this request id (logcheck).
    token = request_id_var.set(SCENARIO_REQUEST_ID)
    try:
        result = app.send_task("portal.anonymize_departed").get(timeout=60)
    finally:
        request_id_var.reset(token)
    check(result["employees"] == 0, f"Celery worker ran portal.anonymize_departed: {result}")


def month(hr: Browser) -> None:
    """A whole month over HTTP (scripts/prodlike_month.py), each step timed."""
    run = prodlike_month.Month()
    print(f"     month {run.label}, tag {run.tag}")
    started = time.monotonic()
    employees: list[list[str]] = []
    steps = [
        ("employee roster", lambda: employees.extend(prodlike_month.import_employees(hr, run))),
        ("chat groups", lambda: prodlike_month.create_groups(hr, run)),
        ("group roster", lambda: prodlike_month.import_group_roster(hr, run, employees)),
        ("reconciliation", lambda: prodlike_month.reconcile(hr, run)),
        ("violations", lambda: prodlike_month.violations(hr, run)),
        ("deductions", lambda: prodlike_month.deductions(hr, run)),
        ("report", lambda: prodlike_month.report(hr, run)),
    ]
    for name, step in steps:
        begun = time.monotonic()
        step()
        print(f"     -- {name}: {time.monotonic() - begun:.1f} s")
    print(f"     month done in {time.monotonic() - started:.1f} s")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    probes()
    admin = Browser()
    login(admin, *prodlike_month.create_superuser())
    session = Browser()
    login(session, *prodlike_month.create_hr_user(admin))
    static_files(session, pages(session))
    worker_round_trip()
    month(session)
    begun = time.monotonic()
    prodlike_wecom.wecom_sync(session)
    print(f"     -- WeCom sync (local server): {time.monotonic() - begun:.1f} s")
    print("scenario passed")


if __name__ == "__main__":
    main()
