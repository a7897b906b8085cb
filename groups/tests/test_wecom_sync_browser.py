"""HR in a real browser (zh-hans) with the local WeCom server standing in for WeCom: configures the
WeCom connection (企业微信连接), presses 立即同步 on the 企业微信同步 page, reads the run with its counts,
and finds the departed member the sync found among the findings.
Screenshots: test-artifacts/screenshots/wecom_sync_*.png."""

from __future__ import annotations

import pytest

from conftest import SCREENSHOT_DIR, browser_login
from groups.models import Employee, WeComSyncRun
from portal.models import WeComConnection
from portal.tests.wecom_api_server import CORP_ID, SECRETS, World, start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def wecom(settings, org):
    server = start(World(groups=8, members_per_group=6))
    settings.WECOM_CORP_ID = settings.WECOM_CONTACT_SECRET = ""  # only the connection HR enters counts
    leaver = server.world.group_chat(0, need_name=True)["member_list"][1]["userid"]
    Employee.objects.bulk_create(
        Employee(
            employee_no=f"E{u['userid']}",
            name=u["name"],
            department=org["sales"],
            wecom_id=u["userid"],
            status="departed" if u["userid"] == leaver else "active",
        )
        for u in server.world.user_rows
    )
    server.leaver = Employee.objects.get(wecom_id=leaver)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def desk(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN", base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(30000)
    yield page
    context.close()


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"wecom_sync_{name}.png"), full_page=True)


def test_hr_syncs_now_and_sees_the_run_and_the_departed_member(desk, hr, wecom):
    page = desk
    browser_login(page, "hr")
    page.goto(f"/admin/portal/wecomconnection/{WeComConnection.load().pk}/change/")
    page.check("#id_enabled")
    page.fill("#id_corp_id", CORP_ID)
    page.fill("#id_base_url", wecom.base_url)
    page.fill("#id_customer_secret", SECRETS["customer"])
    page.fill("#id_contacts_secret", SECRETS["contacts"])
    page.check("#id_customer_enabled")
    page.check("#id_contacts_enabled")
    page.click("[data-testid=wecom-test-connection]")
    page.wait_for_load_state("networkidle")
    assert "客户联系: 成功" in page.locator("ul.messagelist").inner_text()
    page.goto("/admin/groups/wecomsyncrun/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.get_by_role("button", name="立即同步").click()
    page.wait_for_load_state("networkidle")
    assert "已提交企业微信同步任务" in page.locator(".messagelist").inner_text()
    row = page.locator("#result_list tbody tr").first
    assert "已完成" in row.inner_text() and "8/8" in row.inner_text()
    shot(page, "runs")
    row.locator("th a").click()
    counts = page.locator("table.wecom-sync-counts").inner_text()
    assert "列出的客户群\t8" in counts and "新建的工作群\t8" in counts
    shot(page, "run")
    page.goto("/admin/groups/rosterfinding/?kind__exact=departed_member")
    findings = page.locator("#result_list tbody").inner_text()
    assert wecom.leaver.name in findings and "离职员工仍在群" in findings
    shot(page, "findings")
    page.goto(f"/admin/portal/wecomconnection/{WeComConnection.load().pk}/change/")
    status = page.locator("#content").inner_text()
    run = WeComSyncRun.objects.latest("pk")  # its number: PostgreSQL's sequence survives earlier tests' flushes
    assert "已完成" in status and f"#{run.pk}: 8 个群, 8 个有变化, 0 个失败" in status  # 最近同步 on the connection
    shot(page, "connection")
