"""立即同步 in the admin, the beat task, and the run's page: against the local WeCom server."""

from __future__ import annotations

import pytest
from django.urls import reverse

from groups.choices import SyncStatus
from groups.models import ChatGroup, Employee, WeComSyncRun
from portal import outbox
from portal.tests.wecom_api_server import CORP_ID, SECRETS, World, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def wecom(settings, org):
    server = start(World(groups=12, members_per_group=6))
    settings.WECOM_CORP_ID, settings.WECOM_API_BASE = CORP_ID, server.base_url
    settings.WECOM_CONTACT_SECRET, settings.WECOM_DIRECTORY_SECRET = SECRETS["customer"], SECRETS["contacts"]
    Employee.objects.bulk_create(
        Employee(employee_no=f"E{u['userid']}", name=u["name"], department=org["root"], wecom_id=u["userid"])
        for u in server.world.user_rows
    )
    yield server
    server.shutdown()
    server.server_close()


def test_sync_now_button_queues_the_sync_and_the_page_shows_the_run(
    client, hr, wecom, django_capture_on_commit_callbacks
):
    client.force_login(hr)
    page = client.get(reverse("admin:groups_wecomsyncrun_changelist"))
    assert reverse("admin:groups_wecomsyncrun_sync_now") in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:groups_wecomsyncrun_sync_now"))
    assert response.status_code == 302
    assert not WeComSyncRun.objects.exists()  # nothing ran inside the request
    assert "已提交企业微信同步任务" in client.get(response["Location"]).content.decode()
    outbox.flush()  # what runs after the response
    run = WeComSyncRun.objects.get()
    assert (run.status, run.trigger, run.created_by) == (SyncStatus.DONE, "manual", hr)
    assert ChatGroup.objects.filter(platform="wecom").exclude(external_id="").count() == 12
    detail = client.get(reverse("admin:groups_wecomsyncrun_change", args=[run.pk])).content.decode()
    assert "列出的客户群" in detail and "接口调用次数" in detail


def test_sync_now_without_a_connection_says_so(client, hr, settings):
    settings.WECOM_CORP_ID = ""
    client.force_login(hr)
    response = client.post(reverse("admin:groups_wecomsyncrun_sync_now"), follow=True)
    assert "企业微信连接未配置" in response.content.decode()
    assert not WeComSyncRun.objects.exists()


def test_sync_now_is_refused_to_auditors(client, auditor):
    client.force_login(auditor)
    assert client.post(reverse("admin:groups_wecomsyncrun_sync_now")).status_code == 403
    page = client.get(reverse("admin:groups_wecomsyncrun_changelist")).content.decode()
    assert reverse("admin:groups_wecomsyncrun_sync_now") not in page  # no button


def test_the_beat_task_runs_and_an_interrupted_run_is_retried(wecom, monkeypatch):
    from celery.exceptions import Retry

    from groups.tasks import wecom_sync_task

    wecom.down = True  # HTTP 503 for every call: the run stops at its checkpoint
    monkeypatch.setattr("groups.wecom_sync.sync.BACKOFF", (0,))
    monkeypatch.setattr("time.sleep", lambda _s: None)
    with pytest.raises(Retry):
        wecom_sync_task.apply(throw=True)
    assert WeComSyncRun.objects.get().status == SyncStatus.INTERRUPTED
    wecom.down = False
    result = wecom_sync_task.apply(throw=True).get()
    assert result["status"] == SyncStatus.DONE and WeComSyncRun.objects.count() == 1


def test_the_beat_task_without_configuration_does_nothing(settings):
    from groups.tasks import wecom_sync_task

    settings.WECOM_CORP_ID = ""
    assert wecom_sync_task.apply().get() == {"status": "not_configured"}
