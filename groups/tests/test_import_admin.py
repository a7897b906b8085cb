"""Admin roster import: upload → preview → confirm, permissions, the Celery path and its failures."""

import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from kombu.exceptions import OperationalError

from groups import tasks
from groups.choices import ImportStatus
from groups.models import Employee, ImportJob, Membership

from .import_helpers import EMP_HEADER

pytestmark = pytest.mark.django_db

CSV = "\n".join(
    [
        ",".join(EMP_HEADER),
        "N0001,钱八,总公司/市场部,专员,在职,2026-11-03,,wx_qian",
        "E0101,张三,总公司/销售部/华东区,高级销售,在职,,,wx_zhangsan",
        "E0200,陈技术,总公司/技术部,技术总监,离职,,2026-11-01,",
    ]
).encode("gbk")


def upload(client, kind="employees", content=CSV, name="花名册.csv", **data):
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return client.post(reverse("groups:import_upload", args=[kind]), {"file": file, **data})


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client


def test_changelists_show_the_import_buttons(hr_client):
    page = hr_client.get(reverse("admin:groups_employee_changelist")).content.decode()
    assert "导入花名册" in page and reverse("groups:import_upload", args=["employees"]) in page
    for name in ("admin:groups_membership_changelist", "admin:groups_chatgroup_changelist"):
        assert "导入群成员" in hr_client.get(reverse(name)).content.decode()


def test_upload_preview_confirm(hr_client):
    assert hr_client.get(reverse("groups:import_upload", args=["employees"])).status_code == 200
    response = upload(hr_client)
    job = ImportJob.objects.get()
    assert response.url == reverse("groups:import_job", args=[job.pk])
    assert (job.status, job.encoding, job.total_rows) == (ImportStatus.PREVIEWED, "gb18030", 3)
    assert os.path.exists(job.file.path)
    page = hr_client.get(response.url).content.decode()
    for text in ("钱八", "总公司/市场部", "高级销售", "陈技术", "确认导入"):
        assert text in page
    assert not Employee.objects.filter(employee_no="N0001").exists()

    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.summary["created"] == 1 and job.summary["updated"] == 2 and job.summary["departed"] == 1
    assert not job.file  # personal data is not left behind; the job row stays
    assert Employee.objects.get(employee_no="E0200").status == "departed"
    assert "新增" in hr_client.get(reverse("groups:import_job", args=[job.pk])).content.decode()


def test_second_upload_of_the_same_file_says_no_change(hr_client):
    upload(hr_client)
    hr_client.post(reverse("groups:import_confirm", args=[ImportJob.objects.get().pk]), {"create_departments": "on"})
    response = upload(hr_client)
    page = hr_client.get(response.url).content.decode()
    assert "无变化" in page
    assert 'value="确认导入" disabled' in page


def test_invalid_file_lists_errors_and_writes_nothing(hr_client):
    count = Employee.objects.count()
    bad = "工号,姓名,部门,入职日期\nX1,,总公司,2026-02-30\n".encode()
    response = upload(hr_client, content=bad)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.INVALID and not job.file
    page = hr_client.get(response.url).content.decode()
    assert "第2行, 姓名: 不能为空" in page and "第2行, 入职日期: 日期不存在" in page
    assert Employee.objects.count() == count


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("roster.pdf", CSV, "只支持 .csv、.txt 和 .xlsx"),
        ("roster.xlsx", CSV, "文件内容与扩展名不符"),
        ("roster.csv", b"PK\x03\x04zipzip", "文件内容与扩展名不符"),
        ("roster.csv", "工号,姓名\nE1,甲\n".encode("utf-16-le"), "文件内容与扩展名不符"),
    ],
)
def test_upload_type_checks(hr_client, name, content, message):
    response = upload(hr_client, content=content, name=name)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ImportJob.objects.exists()


def test_upload_size_limit(hr_client, settings):
    settings.ROSTER_UPLOAD_MAX_BYTES = 10
    assert "文件太大" in upload(hr_client).content.decode()


def test_users_without_change_permission_get_403(client, auditor, employee_user):
    client.force_login(auditor)  # staff, view-only
    for kind in ("employees", "group"):
        assert client.get(reverse("groups:import_upload", args=[kind])).status_code == 403
        assert upload(client, kind=kind).status_code == 403
    client.force_login(employee_user)  # not staff: the admin login page
    assert client.get(reverse("groups:import_upload", args=["employees"])).status_code == 302
    assert not ImportJob.objects.exists()


def test_jobs_of_others_are_not_visible(client, hr, django_user_model):
    from django.contrib.auth.models import Permission

    client.force_login(hr)
    upload(client)
    job = ImportJob.objects.get()
    clerk = django_user_model.objects.create_user("clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="change_employee"))
    client.force_login(clerk)
    assert client.get(reverse("groups:import_job", args=[job.pk])).status_code == 404
    assert client.post(reverse("groups:import_confirm", args=[job.pk])).status_code == 404


def test_group_roster_upload_into_a_chosen_group(hr_client, org):
    content = "群昵称,微信号\n小李,wx_li\n技术部-孙七,\n".encode()
    response = upload(hr_client, kind="group", content=content, group=org["sales_group"].pk)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.PREVIEWED, job.errors
    page = hr_client.get(response.url).content.decode()
    assert "技术部-孙七" in page and "孙七(E0201)" in page and "群昵称规范" in page
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    assert Membership.objects.filter(group=org["sales_group"], left_at__isnull=True).count() == 2


def test_cancel_deletes_the_upload(hr_client):
    upload(hr_client)
    job = ImportJob.objects.get()
    path = job.file.path
    hr_client.post(reverse("groups:import_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.CANCELLED and not os.path.exists(path)


@pytest.fixture
def large(settings):
    """Every file counts as large (tasks run in-process in tests: see conftest._celery_in_process)."""
    settings.ROSTER_IMPORT_ASYNC_ROWS = 1


def test_large_files_run_through_the_task_with_progress(hr_client, large, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(hr_client)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.PREVIEWED  # validated by the (eager) task
    assert job.task_id
    page = hr_client.get(response.url).content.decode()
    assert "确认导入" in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.QUEUED
    page = hr_client.get(response.url).content.decode()
    assert "js/import_progress.js" in page and 'id="import-progress"' in page and "<script>" not in page
    progress = hr_client.get(reverse("groups:import_progress", args=[job.pk])).json()
    assert progress["status"] == "queued" and progress["working"] is True
    for callback in callbacks:
        callback()
    progress = hr_client.get(reverse("groups:import_progress", args=[job.pk])).json()
    assert (progress["status"], progress["percent"], progress["working"]) == ("done", 100, False)
    assert Employee.objects.filter(employee_no="N0001").exists()


def test_a_redelivered_task_does_not_import_twice(hr_client, large, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        upload(hr_client)
    with django_capture_on_commit_callbacks(execute=True):
        hr_client.post(
            reverse("groups:import_confirm", args=[ImportJob.objects.get().pk]), {"create_departments": "on"}
        )
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.DONE
    assert tasks.run_import_task.delay(job.pk).get() == "skipped"
    assert tasks.validate_import_task.delay(job.pk).get() == "skipped"
    assert Employee.objects.filter(employee_no="N0001").count() == 1


@pytest.mark.django_db(transaction=True)  # on_commit runs inside the request, as in production
def test_queue_down_keeps_the_upload_and_says_so(hr_client, large):
    def down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis")

    with pytest.MonkeyPatch.context() as queue_down:
        queue_down.setattr(tasks.validate_import_task, "delay", down)
        response = upload(hr_client)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.UPLOADED and os.path.exists(job.file.path)
    page = hr_client.get(response.url).content.decode()
    assert "任务队列暂不可用" in page and "重新校验" in page

    hr_client.post(reverse("groups:import_validate", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED

    with pytest.MonkeyPatch.context() as queue_down:
        queue_down.setattr(tasks.run_import_task, "delay", down)
        response = hr_client.post(
            reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"}, follow=True
        )
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and os.path.exists(job.file.path)
    assert "导入未开始" in response.content.decode()


@pytest.mark.django_db(transaction=True)  # real commits: on_commit callbacks fire as in production
def test_confirm_answers_before_the_reconciliation_runs(hr_client, monkeypatch):
    """Eager tasks (embedded default): the reconciliation after an import is recorded in the outbox
    and runs after the response has been sent, never inside the confirm request (issue #14)."""
    from groups.models import ReconcileRun
    from portal import outbox
    from portal.models import PendingTask

    deferred = []
    monkeypatch.setattr(outbox, "run_after_response", deferred.append)
    upload(hr_client)
    job = ImportJob.objects.get()
    seen_in_view = {}
    original = tasks.reconcile_all

    def spy(**kwargs):
        seen_in_view["ran"] = True
        return original(**kwargs)

    monkeypatch.setattr(tasks, "reconcile_all", spy)
    response = hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    # The request has answered: the import is written, the reconciliation only recorded.
    assert "ran" not in seen_in_view and not ReconcileRun.objects.exists()
    assert list(PendingTask.objects.values_list("task_name", flat=True)) == [tasks.reconcile_groups_task.name]
    assert deferred == [outbox.flush]  # handed to the after-response runner (a thread in production)
    deferred[0]()
    assert seen_in_view == {"ran": True} and ReconcileRun.objects.count() == 1
    assert not PendingTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_request_the_reconciliation_runs_at_once(org):
    from django.db import transaction

    from groups.models import ReconcileRun

    with transaction.atomic():
        tasks.enqueue_reconcile()
    assert ReconcileRun.objects.count() == 1
