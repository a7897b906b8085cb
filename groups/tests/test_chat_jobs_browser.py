"""HR watches a large chat upload in a real browser (zh-hans): the progress bar moves as the worker
reads, the page turns into the preview by itself, and a confirmed import shows its result."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from conftest import browser_login
from groups.chat import jobs, store
from groups.chat.models import ChatImport, ChatMessage
from groups.choices import ImportStatus

from .chat_helpers import WECOM, wecom_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_progress_bar_then_preview_then_done(page, screenshot, hr, org, settings):
    settings.CHAT_IMPORT_ASYNC_BYTES = 100
    group = wecom_group(org)
    job = store.create_chat_import(
        group=group, acting_user=hr, platform="wecom", upload=SimpleUploadedFile("群聊.jsonl", WECOM.read_bytes())
    )
    # a worker is reading it: 3 of 12 lines so far
    ChatImport.objects.filter(pk=job.pk).update(
        status=ImportStatus.VALIDATING, started_at=timezone.now(), heartbeat_at=timezone.now(),
        processed_lines=3, total_lines=12,
    )  # fmt: skip
    browser_login(page, "hr")
    page.goto(reverse("groups:chat_import_job", args=[job.pk]))
    assert page.locator("#import-progress progress").get_attribute("value") == "25"
    assert "校验中" in page.locator("h2").inner_text() and "3 / 12" in page.locator("#import-progress").inner_text()
    screenshot("chat_import_reading")
    ChatImport.objects.filter(pk=job.pk).update(processed_lines=9, heartbeat_at=timezone.now())
    expect(page.locator(".import-progress-text")).to_have_text("9 / 12")  # polled, no reload
    assert page.locator("#import-progress progress").evaluate("bar => bar.value") == 75
    # the worker finishes: the page reloads itself into the preview
    ChatImport.objects.filter(pk=job.pk).update(status=ImportStatus.UPLOADED)
    jobs.preview_job(job.pk)
    page.wait_for_selector("input[value=确认导入]", timeout=20000)
    assert "待确认" in page.locator("h2").inner_text() and not page.locator("#import-progress").count()
    screenshot("chat_import_previewed")
    with page.expect_navigation():
        page.click("input[value=确认导入]")
    page.wait_for_selector(".chat-import-created", timeout=20000)
    assert page.locator(".chat-import-created").inner_text() == "6" and ChatMessage.objects.count() == 6
    assert "已导入 6 条新消息" in page.locator("body").inner_text()  # tasks ran in-process: done at once
    screenshot("chat_import_done")
