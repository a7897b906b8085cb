"""Large chat uploads: read and written by the Celery tasks with progress; a killed worker's job is
taken up again (never left 校验中 / 导入中), nothing is written twice or half."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from groups import tasks
from groups.chat import jobs, spool, store
from groups.chat.models import ChatImport, ChatMessage
from groups.choices import ImportStatus
from portal import outbox

from .chat_helpers import WECOM, wecom_group, wecom_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def large(settings):
    settings.CHAT_IMPORT_ASYNC_BYTES = 100  # the sample (≈ 2 kB) counts as large


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client


def upload(hr_client, group, path=WECOM):
    file = SimpleUploadedFile(path.name, path.read_bytes())
    return hr_client.post(reverse("groups:chat_import_upload"), {"file": file, "group": group.pk})


def previewed(org, **fields) -> ChatImport:
    """A large job read through the task, as after an upload."""
    group = wecom_group(org)
    job = store.create_chat_import(
        group=group, acting_user=None, platform="wecom", upload=SimpleUploadedFile("a.jsonl", WECOM.read_bytes())
    )
    jobs.preview_job(job.pk)
    ChatImport.objects.filter(pk=job.pk).update(**fields)
    return ChatImport.objects.get(pk=job.pk)


def test_large_upload_read_and_written_by_the_tasks(hr_client, hr, org, large, django_capture_on_commit_callbacks):
    group = wecom_group(org)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(hr_client, group)
    assert ChatImport.objects.get().status == ImportStatus.UPLOADED  # not read in the request
    outbox.flush()  # after the response (in-process tasks; a broker's worker otherwise)
    job = ChatImport.objects.get()
    assert response.url == reverse("groups:chat_import_job", args=[job.pk])
    # read by the task after the response: progress complete, preview stored, spool in place
    assert job.status == ImportStatus.PREVIEWED and job.message_count == 6 and job.attempts == 1
    assert job.total_lines == 7 and job.processed_lines == job.total_lines and job.progress_percent == 100
    assert spool.spool_path(job.pk).exists() and not ChatMessage.objects.exists()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        page = hr_client.post(reverse("groups:chat_import_confirm", args=[job.pk]), follow=True).content.decode()
    assert "已在后台导入" in page
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED and job.confirmed_by == hr and not ChatMessage.objects.exists()
    assert job.attempts == 0  # the write counts its own attempts
    page = hr_client.get(reverse("groups:chat_import_job", args=[job.pk])).content.decode()
    assert 'id="import-progress"' in page and "正在写入 6 条消息" in page
    for callback in callbacks:
        callback()
    outbox.flush()
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.created_count == ChatMessage.objects.count() == 6
    assert job.attempts == 1 and not job.file and not spool.spool_path(job.pk).exists()
    assert LogEntry.objects.filter(object_repr=str(job), actor=hr).exists()  # the confirming user
    assert tasks.run_chat_import_task.delay(job.pk).get() == "skipped"  # redelivered: nothing twice
    assert ChatMessage.objects.count() == 6


def test_small_upload_is_still_read_in_the_request(hr_client, org, settings):
    settings.CHAT_IMPORT_ASYNC_BYTES = 10**9
    upload(hr_client, wecom_group(org))
    job = ChatImport.objects.get()
    assert job.status == ImportStatus.PREVIEWED and job.attempts == 0  # no task involved
    assert store.run_chat_import(job, acting_user=None).status == ImportStatus.DONE


def test_progress_page_and_endpoint(hr_client, client, auditor, org, large):
    job = previewed(org, status=ImportStatus.VALIDATING, processed_lines=3, total_lines=12)
    ChatImport.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())
    url = reverse("groups:chat_import_progress", args=[job.pk])
    data = hr_client.get(url).json()
    assert data == {"status": "validating", "status_display": "校验中", "processed": 3, "total": 12,
                    "percent": 25, "working": True}  # fmt: skip
    page = hr_client.get(reverse("groups:chat_import_job", args=[job.pk])).content.decode()
    assert 'id="import-progress"' in page and "import_progress.js" in page and 'value="25"' in page
    ChatImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, started_at=timezone.now())
    running = hr_client.get(url).json()
    assert running["percent"] is None and running["working"]  # one statement: no count to show
    client.force_login(auditor)  # staff, sees everything, but imports are HR's
    assert client.get(url).status_code == 404


def test_killed_while_reading_is_read_again(org, large, settings, django_capture_on_commit_callbacks):
    job = previewed(org)
    ChatImport.objects.filter(pk=job.pk).update(status=ImportStatus.VALIDATING, preview={"detect": True})
    spool.discard(job.pk)
    fresh = timezone.now()
    ChatImport.objects.filter(pk=job.pk).update(heartbeat_at=fresh)
    assert not jobs.recover(ChatImport.objects.get(pk=job.pk))  # its heartbeat is recent: alive
    assert tasks.preview_chat_import_task.delay(job.pk).get() == "skipped"  # a duplicate delivery waits
    old = fresh - timedelta(seconds=settings.CHAT_IMPORT_STALE_SECONDS + 1)
    ChatImport.objects.filter(pk=job.pk).update(heartbeat_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.recover(ChatImport.objects.get(pk=job.pk))
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and job.attempts == 2 and spool.spool_path(job.pk).exists()


def test_killed_while_writing_is_written_again_without_duplicates(org, large, settings):
    job = previewed(org)
    # An earlier import holds two of the file's messages; the killed run's transaction left nothing.
    store.import_chat_file(_two_of_the_sample(org), group=job.group, acting_user=None, platform="wecom")
    long_ago = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1)
    ChatImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, started_at=long_ago)
    assert tasks.run_chat_import_task.delay(job.pk).get() == "done"  # the redelivered task takes it up
    job.refresh_from_db()
    assert (job.created_count, job.preview["duplicates"]) == (4, 2) and ChatMessage.objects.count() == 6
    assert job.attempts == 2


def _two_of_the_sample(org):
    path = spool.spool_path(0).parent / "two.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = WECOM.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    return path


@pytest.mark.django_db(transaction=True)
def test_a_live_write_is_not_taken_over(org, large):
    """PostgreSQL asks the row lock the write transaction holds; elsewhere the task time limit."""
    job = previewed(org)
    ChatImport.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, started_at=timezone.now())
    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:  # a live worker: its write transaction has the job row locked
        from django.db import transaction

        with transaction.atomic():
            ChatImport.objects.select_for_update().get(pk=job.pk)
            locked.set()
            release.wait(10)
        connections.close_all()

    if connection.vendor == "postgresql":
        worker = threading.Thread(target=hold_lock)
        worker.start()
        locked.wait(10)
    assert not jobs.recover(ChatImport.objects.get(pk=job.pk))
    assert jobs.run_job(job.pk) is None and ChatImport.objects.get(pk=job.pk).status == ImportStatus.RUNNING
    if connection.vendor == "postgresql":
        release.set()
        worker.join()
        # the worker is gone and its transaction with it: taken up at once, not after the time limit
        assert jobs.recover(ChatImport.objects.get(pk=job.pk))
        assert ChatImport.objects.get(pk=job.pk).status == ImportStatus.DONE
        assert ChatMessage.objects.count() == 6


def test_gives_up_after_the_attempts(org, large, settings, django_capture_on_commit_callbacks):
    job = previewed(org, status=ImportStatus.QUEUED, attempts=settings.CHAT_IMPORT_MAX_ATTEMPTS)
    assert tasks.run_chat_import_task.delay(job.pk).get() == "failed"
    job.refresh_from_db()
    assert "多次中断" in job.errors[0] and not job.file and not spool.spool_path(job.pk).exists()
    assert not ChatMessage.objects.exists()


def test_unexpected_error_fails_the_job_not_left_running(org, large, monkeypatch):
    job = previewed(org, status=ImportStatus.QUEUED)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "apply_recalls", broken)
    assert tasks.run_chat_import_task.delay(job.pk).get() == "failed"
    job.refresh_from_db()
    assert "系统错误" in job.errors[0] and not ChatMessage.objects.exists() and not job.file


def test_a_bad_file_read_by_the_task_is_invalid(org, large):
    group = wecom_group(org)
    content = (wecom_row("ok") + "\n{broken\n").encode()
    job = store.create_chat_import(
        group=group, acting_user=None, platform="wecom", upload=SimpleUploadedFile("b.jsonl", content)
    )
    assert tasks.preview_chat_import_task.delay(job.pk).get() == "invalid"
    job.refresh_from_db()
    assert "第2行" in job.errors[0] and not job.file and not spool.spool_path(job.pk).exists()


def test_sweep_deletes_unconfirmed_uploads(org, large, settings):
    job = previewed(org)
    ChatImport.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(hours=settings.ROSTER_UPLOAD_KEEP_HOURS + 1)
    )
    stored = ChatImport.objects.get(pk=job.pk).file.path
    assert tasks.recover_chat_imports_task.delay().get() == 1
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and "保留期限" in job.errors[0]
    assert not spool.spool_path(job.pk).exists() and not job.file
    assert not Path(stored).exists()
