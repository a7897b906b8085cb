"""The Content Security Policy as a real browser enforces it (Playwright + Debian Chromium).

test_security.py checks the HTML statically; this catches what only a browser sees: scripts that
inject inline styles or handlers at run time, eval, blocked resources.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(
  e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sample || '')
  + ' @' + e.sourceFile + ':' + e.lineNumber));
"""


@pytest.fixture
def page(browser, live_server):
    """A page of the shared session browser (conftest.browser) that records CSP violations."""
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(COLLECT_VIOLATIONS)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda msg: page.console_messages.append(msg.text))
    yield page
    context.close()


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # scripts deferred to after load (admin widgets) get to run
    violations = page.evaluate("window.__cspViolations")
    csp_console = [m for m in page.console_messages if "Content Security Policy" in m]
    assert not violations and not csp_console, f"{url}: {violations} {csp_console}"


def test_pages_run_under_the_csp_without_violations(page, hr, org, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hr.set_password("pw-Qungui-2026!")
    hr.is_superuser = True
    hr.save()
    visit(page, reverse("login"))
    page.fill("#id_username", "hr")
    page.fill("#id_password", "pw-Qungui-2026!")
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)
    for url in [
        reverse("home"),
        reverse("admin:index"),
        reverse("admin:groups_employee_changelist"),
        reverse("admin:groups_employee_add"),
        reverse("admin:groups_chatgroup_change", args=[org["sales_group"].pk]),
        reverse("admin:groups_department_changelist"),
        reverse("admin:groups_employee_history", args=[org["east_rep"].pk]),
        reverse("admin:auditlog_logentry_changelist"),
    ]:
        visit(page, url)


def test_export_select_all_handler_runs_under_its_hash(page, hr, org, settings):
    """import_export's inline onchange handler is allowed by hash: unticking "select all" unticks fields."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hr.set_password("pw-Qungui-2026!")
    hr.save()
    page.goto(reverse("login"))
    page.fill("#id_username", "hr")
    page.fill("#id_password", "pw-Qungui-2026!")
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)
    visit(page, reverse("admin:groups_employee_export"))
    fields = page.locator(".selectable-field-export-row input[type=checkbox]:visible")
    assert fields.count() > 3
    page.uncheck("input.select-toggle")
    assert page.evaluate("window.__cspViolations") == []
    assert all(not fields.nth(i).is_checked() for i in range(fields.count()))
