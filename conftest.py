"""People every permission test needs (healthchecks' alice/bob/charlie, in our domain).

Tree:  总公司 ─┬─ 销售部 ─── 华东区
              └─ 技术部
- hr:            HR admin (auth group HR管理员), sees and changes everything
- auditor:       auditor (auth group 审计), sees everything, changes nothing
- head_sales:    head of 销售部 (and so of 华东区)
- head_tech:     head of 技术部, the sibling department
- group_admin:   an employee of 技术部 who administers the sales group 销售部工作群
- employee_user: a plain employee of 华东区
- outsider_user: a login with no employee record
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

# The local WeCom APIs: ``wecom_api`` (application messages, the notification tests of every app) and
# ``wecom_api_server`` (the server API: contacts, customer groups, transfer, chat archive).
pytest_plugins = ["portal.tests.wecom_server", "portal.tests.wecom_api_server"]

POSTGRES_SCHEMES = ("postgres://", "postgresql://", "pgsql://", "postgis://")


def pytest_configure(config):
    # WhiteNoise warns on every request when STATIC_ROOT is missing (collectstatic has not run, and
    # need not: tests serve from the finders). An empty folder keeps the test output readable.
    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


def pytest_collection_modifyitems(config, items):
    """Tests that need a service run only where it is configured: deselected (and reported), never skipped.

    - ``postgres``: DATABASE_URL points at PostgreSQL;
    - ``redis``: REDIS_URL is set;
    - ``worker``: both (a real Celery worker shares the test database).
    scripts/test.sh runs the suite both ways, so each of them runs in CI.
    """
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(POSTGRES_SCHEMES)
    has_redis = bool(os.environ.get("REDIS_URL"))
    available = {"postgres": on_postgres, "redis": has_redis, "worker": on_postgres and has_redis}
    keep, deselected = [], []
    for item in items:
        _refuse_serialized_rollback(item)
        missing = [name for name, ok in available.items() if not ok and item.get_closest_marker(name)]
        (deselected if missing else keep).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep
    counts = _left_out_counts(deselected, available)
    if hasattr(config, "workeroutput"):  # an xdist worker: the controller prints the summary
        config.workeroutput["qungui_left_out"] = counts
    else:
        config._qungui_left_out = counts


def _refuse_serialized_rollback(item) -> None:
    """No transactional test may use ``serialized_rollback``.

    Its teardown flushes without post_migrate and leaves the database empty (no content types, roles,
    rule catalog) for the next transactional test without it, which then failed on a foreign key (or,
    on SQLite, left the shared connection outside autocommit); a plain flush + post_migrate already
    restores everything (groups.apps, violations.apps).
    """
    marker = item.get_closest_marker("django_db")
    if marker and marker.kwargs.get("serialized_rollback"):
        raise pytest.UsageError(f"{item.nodeid}: serialized_rollback is not used in this suite (conftest.py)")


def _left_out_counts(deselected, available) -> dict[str, int]:
    """How many tests each missing service left out (a test needing two counts under the first)."""
    counts: dict[str, int] = {}
    for item in deselected:
        name = next(name for name, ok in available.items() if not ok and item.get_closest_marker(name))
        counts[name] = counts.get(name, 0) + 1
    return counts


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown (and never called) without xdist
def pytest_testnodedown(node, error):
    # Under xdist every worker collects the whole suite: one worker's counts are the run's.
    output = getattr(node, "workeroutput", {})
    if "qungui_left_out" in output:
        node.config._qungui_left_out = output["qungui_left_out"]


LEFT_OUT_HINT = {
    "postgres": "set DATABASE_URL=postgres://… to run them",
    "redis": "set REDIS_URL=redis://… to run them",
    "worker": "set both DATABASE_URL and REDIS_URL to run them with a real Celery worker",
}


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say what this run left out and why, also under ``-n 2`` (where pytest reports no deselection)."""
    counts = getattr(config, "_qungui_left_out", None)
    if not counts:
        return
    terminalreporter.section("left out (service not configured)", sep="-")
    for name, count in sorted(counts.items()):
        terminalreporter.write_line(f"{count} test(s) marked {name!r} not run: {LEFT_OUT_HINT[name]}")


@pytest.fixture(autouse=True)
def _celery_in_process(request, monkeypatch):
    """Tasks run in-process in tests, even when REDIS_URL is set; ``worker`` tests use the real broker."""
    if request.node.get_closest_marker("worker"):
        return
    from portal.celery import app

    monkeypatch.setattr(app.conf, "task_always_eager", True)
    monkeypatch.setattr(app.conf, "task_eager_propagates", True)


@pytest.fixture(autouse=True)
def _broker_state(monkeypatch):
    """A test that found the broker down must not make the next one skip it (portal.outbox's memory)."""
    from portal import outbox

    monkeypatch.setattr(outbox, "_down_until", 0.0)
    # The test client sends request_finished only once a streamed response is read to its end: a test
    # that leaves a download unread would leave this thread "in a request" for the tests after it.
    outbox._state.in_request = outbox._state.after_response = False


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_live_server_on_sqlite():
    """Browser tests on SQLite: the live server answers one request at a time.

    Its threads share the test's in-memory database connection (Django's docs: simultaneous queries
    over it "may sometimes randomly cause the tests to fail"): a page's XHR still running when the
    form was submitted made the submit fail with "database table is locked: django_session". A
    server that is not threaded closes each connection after its response (Django's ServerHandler),
    so the browser's requests are served in turn. PostgreSQL's live server keeps its threads (each
    has a connection of its own)."""
    from django.core.servers.basehttp import WSGIServer
    from django.db import connection
    from django.test.testcases import LiveServerThread

    class OneRequestAtATime(WSGIServer):
        def __init__(self, *args, connections_override=None, **kwargs):
            # the thread serving is the live server's own, which installs the shared connection
            super().__init__(*args, **kwargs)

    if connection.vendor == "sqlite":
        LiveServerThread.server_class = OneRequestAtATime


@pytest.fixture(autouse=True)
def _live_server_work_in_request(request, monkeypatch):
    """Browser tests: work deferred past the response runs inside the request, as before issue #14.

    The live server thread shares the test's SQLite connection (an in-memory database): work it ran
    after answering would still be using that connection while the test, already served, goes on or
    tears down — the connection was left outside autocommit for every later test. The after-response
    path itself is tested with the test client (groups/tests/test_import_admin.py).
    """
    if "live_server" not in request.fixturenames:
        return
    from portal import outbox

    monkeypatch.setattr(outbox, "send_after_response", outbox.send)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language (简体中文): a request with ``Accept-Language: en`` leaves
    English active in the thread after it (LocaleMiddleware never deactivates), which made a later
    test's Chinese message come out in English depending on the order the tests ran in."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _test_settings(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.QUNGUI_LOCK_DIR = tmp_path / "locks"  # file locks (SQLite) of parallel test processes apart
    # Work deferred past a response runs at request_finished in this thread (a thread of its own
    # could not see the test's transaction); still after the view has answered.
    settings.QUNGUI_AFTER_RESPONSE_INLINE = True
    # Password hashing dominates fixture set-up; tests don't need a slow hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Throttle counters and other cached state must not leak between tests (or test runs) via Redis.
    # A store of its own per test: locmem caches of the same LOCATION share one dict per process, so
    # a throttle counted in one test would still count in the next (CI saw a 429 that way).
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(tmp_path)}
    }
    yield
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def org(db):
    from groups.models import ChatGroup, Employee
    from groups.services import create_department

    root = create_department("总公司")
    sales = create_department("销售部", parent=root)
    east = create_department("华东区", parent=sales)
    tech = create_department("技术部", parent=root)
    sales.refresh_from_db()

    def emp(no, name, dept, **kw):
        return Employee.objects.create(employee_no=no, name=name, department=dept, **kw)

    people = {
        "ceo": emp("E0001", "王总", root, title="总经理"),
        "sales_head": emp("E0100", "李销售", sales, title="销售总监", wechat_id="wx_li"),
        "east_rep": emp("E0101", "张三", east, title="销售代表", wechat_id="wx_zhangsan"),
        "east_departed": emp("E0102", "赵六", east, status="departed", wechat_id="wx_zhaoliu"),
        "tech_head": emp("E0200", "陈技术", tech, title="技术总监"),
        "tech_dev": emp("E0201", "孙七", tech, title="工程师"),
    }
    sales.head = people["sales_head"]
    sales.save()
    tech.head = people["tech_head"]
    tech.save()
    sales_group = ChatGroup.objects.create(
        name="销售部工作群", platform="wechat", kind="department", department=sales, owner=people["sales_head"]
    )
    sales_group.admins.add(people["tech_dev"])
    tech_group = ChatGroup.objects.create(name="技术部工作群", platform="wecom", kind="department", department=tech)
    return {
        "root": root,
        "sales": sales,
        "east": east,
        "tech": tech,
        "sales_group": sales_group,
        "tech_group": tech_group,
        **people,
    }


def _user(django_user_model, username, *, employee=None, role=None, staff=False):
    user = django_user_model.objects.create_user(username=username, password="pw-Qungui-2026!", is_staff=staff)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    if employee is not None:
        employee.user = user
        employee.save(update_fields=["user"])
    return user


@pytest.fixture
def hr(db, django_user_model, org):
    return _user(django_user_model, "hr", role=settings.ROLE_HR_ADMIN, staff=True)


@pytest.fixture
def auditor(db, django_user_model, org):
    return _user(django_user_model, "auditor", role=settings.ROLE_AUDITOR, staff=True)


@pytest.fixture
def head_sales(db, django_user_model, org):
    return _user(django_user_model, "head_sales", employee=org["sales_head"])


@pytest.fixture
def head_tech(db, django_user_model, org):
    return _user(django_user_model, "head_tech", employee=org["tech_head"])


@pytest.fixture
def group_admin(db, django_user_model, org):
    return _user(django_user_model, "group_admin", employee=org["tech_dev"])


@pytest.fixture
def employee_user(db, django_user_model, org):
    return _user(django_user_model, "employee", employee=org["east_rep"])


@pytest.fixture
def outsider_user(db, django_user_model, org):
    return _user(django_user_model, "outsider")


# --- Real-browser tests (Playwright driving Debian's Chromium) ------------------------------------

SCREENSHOT_DIR = Path(__file__).resolve().parent / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django would then refuse ORM calls
    # made by the test itself (fixtures creating data), which are safe here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/test.sh does)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)

    def take(name: str, *, target=None) -> Path:
        path = SCREENSHOT_DIR / f"{name}.png"
        (target or page).screenshot(path=str(path), full_page=True)
        return path

    return take


def browser_login(page, username: str, password: str = "pw-Qungui-2026!") -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state("networkidle")
