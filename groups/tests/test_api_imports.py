"""POST /api/v1/imports/: roster uploads through the admin's services — valid, invalid (errors listed,
nothing written), dry run then confirm, permissions, large files queued — and GET for status."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from groups import tasks
from groups.choices import ImportStatus
from groups.models import Employee, ImportJob, Membership
from portal.api.testing import api_for, ids

from .import_helpers import EMP_HEADER

URL = "/api/v1/imports/"

EMPLOYEES = "\n".join(
    [
        ",".join(EMP_HEADER),
        "N0001,钱八,总公司/市场部,专员,在职,2026-11-03,,wx_qian",
        "E0101,张三,总公司/销售部/华东区,高级销售,在职,,,wx_zhangsan",
    ]
).encode("gbk")
ROSTER = "群昵称,微信号,入群时间\n华东区-张三,wx_zhangsan,2026-01-05\n客户王,wx_wang,\n".encode()


def post(user, content=EMPLOYEES, name="花名册.csv", **data):
    data.setdefault("kind", "employees")
    if data["kind"] == "employees":
        data.setdefault("create_departments", "true")  # the file names 总公司/市场部, not yet in the tree
    file = SimpleUploadedFile(name, content, content_type="text/csv")
    return api_for(user).post(URL, {"file": file, **data}, format="multipart")


def test_valid_employee_file_is_imported(org, hr):
    response = post(hr)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "done" and body["summary"]["created"] == 1
    assert Employee.objects.filter(employee_no="N0001", department__name_path="总公司/市场部").exists()
    job = ImportJob.objects.get(pk=body["id"])
    assert job.created_by == hr and not job.file  # the upload is not kept
    assert LogEntry.objects.filter(object_pk=str(job.pk), actor=hr).exists()
    assert api_for(hr).get(f"{URL}{job.pk}/").json()["progress_percent"] == 100


def test_invalid_file_answers_every_error_and_writes_nothing(org, hr):
    before = Employee.objects.count()
    bad = "工号,姓名,部门,入职日期\nX1,,总公司,2026-02-30\nX1,乙,总公司,2026-01-01\n".encode()
    response = post(hr, content=bad)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "第2行, 姓名: 不能为空" in error["fields"]["file"]
    assert any(m.startswith("第2行, 入职日期: 日期不存在") for m in error["fields"]["file"])
    assert any(m.startswith("第3行, 工号") for m in error["fields"]["file"]), error
    assert Employee.objects.count() == before
    assert ImportJob.objects.get().status == ImportStatus.INVALID


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [("roster.pdf", EMPLOYEES, "file"), ("roster.xlsx", EMPLOYEES, "file"), ("roster.csv", b"  ", "file")],
)
def test_upload_type_checks(org, hr, name, content, field):
    response = post(hr, content=content, name=name)
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert not ImportJob.objects.exists()


def test_dry_run_previews_then_confirm_imports(org, hr):
    response = post(hr, dry_run="true")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "previewed" and body["preview"]["summary"]["created"] == 1
    assert not Employee.objects.filter(employee_no="N0001").exists()
    done = api_for(hr).post(f"{URL}{body['id']}/confirm/")
    assert done.status_code == 200 and done.json()["status"] == "done"
    assert Employee.objects.filter(employee_no="N0001").exists()
    again = api_for(hr).post(f"{URL}{body['id']}/confirm/")
    assert again.status_code == 400 and "status" in again.json()["error"]["fields"]


def test_dry_run_can_be_cancelled(org, hr):
    job_id = post(hr, dry_run="true").json()["id"]
    assert api_for(hr).post(f"{URL}{job_id}/cancel/").json()["status"] == "cancelled"
    assert not Employee.objects.filter(employee_no="N0001").exists()


def test_group_roster_into_a_chosen_group(org, hr):
    response = post(hr, content=ROSTER, name="群.csv", kind="group", group=org["sales_group"].pk)
    assert response.status_code == 201, response.content
    members = set(Membership.objects.filter(group=org["sales_group"]).values_list("nickname", flat=True))
    assert members == {"华东区-张三", "客户王"}


@pytest.mark.parametrize("who", ["auditor", "head_sales", "employee_user", "group_admin", "outsider_user"])
def test_only_hr_or_permitted_users_import(request, org, who):
    response = post(request.getfixturevalue(who))
    assert response.status_code == 403
    assert not ImportJob.objects.exists() and not Employee.objects.filter(employee_no="N0001").exists()


def test_a_user_with_the_admins_change_permission_may_import_and_sees_own_jobs_only(org, hr, head_sales):
    head_sales.user_permissions.add(Permission.objects.get(codename="change_employee"))
    mine = post(head_sales, dry_run="true")
    assert mine.status_code == 201, mine.content
    theirs = post(hr, dry_run="true").json()["id"]
    assert ids(api_for(head_sales).get(URL)) == [mine.json()["id"]]
    assert api_for(head_sales).get(f"{URL}{theirs}/").status_code == 404
    assert api_for(head_sales).post(f"{URL}{theirs}/confirm/").status_code == 404
    roster = post(head_sales, content=ROSTER, kind="group", group=org["sales_group"].pk)
    assert roster.status_code == 403  # change_membership not granted


def test_group_outside_scope_is_not_a_valid_choice(org, hr, head_sales):
    head_sales.user_permissions.add(Permission.objects.get(codename="change_membership"))
    response = post(head_sales, content=ROSTER, kind="group", group=org["tech_group"].pk)
    assert response.status_code == 400 and "group" in response.json()["error"]["fields"]
    assert not Membership.objects.exists()


def test_upload_is_validated_by_a_worker(org, hr, monkeypatch):
    """With a real broker the request only stores the file and queues the validation: 202."""
    sent = []
    monkeypatch.setattr(
        tasks.validate_import_task, "delay", lambda job_id: sent.append(job_id) or SimpleNamespace(id="t1")
    )
    response = post(hr, dry_run="true")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "uploaded" and sent == [response.json()["id"]]
    tasks.validate_import_task.apply(args=sent)  # the worker
    assert api_for(hr).get(f"{URL}{response.json()['id']}/").json()["status"] == "previewed"


def test_list_query_count_is_constant(org, hr, django_assert_max_num_queries):
    for _ in range(2):
        post(hr, dry_run="true")
    with django_assert_max_num_queries(8):
        small = api_for(hr).get(URL)
    for _ in range(6):
        post(hr, dry_run="true")
    with django_assert_max_num_queries(8):
        large = api_for(hr).get(URL)
    assert small.json()["count"] == 2 and large.json()["count"] == 8


def test_anonymous_gets_401(org):
    assert api_for(None).get(URL).status_code == 401
    assert post(None).status_code == 401
