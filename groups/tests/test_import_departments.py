"""Employee imports find departments as HR files name them (full path, 部门编码, unique leaf name) and
never rewrite the organisation by accident: new departments only by the importer's explicit choice."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from groups.choices import ImportStatus
from groups.importing.errors import ImportValidationError
from groups.models import Department, Employee, ImportJob
from groups.reconcile import reconcile_all
from groups.services import create_department
from portal.api.testing import api_for

from .import_helpers import run_employees, write_csv

pytestmark = pytest.mark.django_db


def paths() -> set[str]:
    return set(Department.objects.values_list("name_path", flat=True))


def dept_of(no: str) -> str:
    return Employee.objects.get(employee_no=no).department.name_path


def test_leaf_names_keep_existing_staff_in_place(org, tmp_path):
    before = paths()
    rows = [
        ["工号", "姓名", "部门"],
        ["E0101", "张三", "华东区"],
        ["E0201", "孙七", " 技术部 "],
        ["N1", "新人", "华东区"],
    ]
    summary = run_employees(write_csv(tmp_path / "r.csv", rows), create_departments=False)
    assert summary["departments_created"] == 0 and summary["created"] == 1 and summary["updated"] == 0
    assert paths() == before
    assert (dept_of("E0101"), dept_of("E0201"), dept_of("N1")) == (
        "总公司/销售部/华东区",
        "总公司/技术部",
        "总公司/销售部/华东区",
    )


def test_a_partial_path_and_fullwidth_forms_match_too(org, tmp_path):
    rows = [["工号", "姓名", "部门"], ["N1", "甲", "销售部/华东区"], ["N2", "乙", "总公司 / 技术部"]]
    run_employees(write_csv(tmp_path / "r.csv", rows), create_departments=False)
    assert (dept_of("N1"), dept_of("N2")) == ("总公司/销售部/华东区", "总公司/技术部")


def test_an_ambiguous_leaf_is_a_row_error_naming_the_candidates(org, tmp_path):
    create_department("华东区", parent=org["tech"])
    before = (paths(), dept_of("E0101"))
    rows = [["工号", "姓名", "部门"], ["E0101", "张三", "华东区"]]
    with pytest.raises(ImportValidationError) as error:
        run_employees(write_csv(tmp_path / "r.csv", rows), create_departments=True)
    (message,) = error.value.messages
    assert message.startswith("第2行, 部门: “华东区”对应多个部门")
    assert "总公司/技术部/华东区" in message and "总公司/销售部/华东区" in message
    assert (paths(), dept_of("E0101")) == before


def test_an_unknown_name_is_a_row_error_with_close_matches(org, tmp_path):
    before = paths()
    rows = [["工号", "姓名", "部门"], ["N1", "甲", "华东去"], ["N2", "乙", "总公可/销售部"]]
    with pytest.raises(ImportValidationError) as error:
        run_employees(write_csv(tmp_path / "r.csv", rows), create_departments=True)
    first, second = error.value.messages
    assert first.startswith("第2行, 部门: 没有部门“华东去”") and "相近的部门:总公司/销售部/华东区" in first
    assert "新建" not in first  # a lone name never becomes a new top-level department
    assert second.startswith("第3行, 部门: 没有部门“总公可/销售部”") and "总公司/销售部" in second
    assert paths() == before and not Employee.objects.filter(employee_no__in=["N1", "N2"]).exists()


def test_a_department_code_column_matches(org, tmp_path):
    east, tech = org["east"], org["tech"]
    east.code, tech.code = "D-EAST", "D-TECH"
    east.save(update_fields=["code"])
    tech.save(update_fields=["code"])
    create_department("华东区", parent=tech)  # the name alone is now ambiguous
    rows = [["工号", "姓名", "部门", "部门编码"], ["E0101", "张三", "华东区", "D-EAST"], ["N1", "甲", "技术", "D-TECH"]]
    summary = run_employees(write_csv(tmp_path / "r.csv", rows), create_departments=False)
    assert summary["departments_created"] == 0
    assert (dept_of("E0101"), dept_of("N1")) == ("总公司/销售部/华东区", "总公司/技术部")


NEW_DEPTS = [["工号", "姓名", "部门"], ["N1", "甲", "总公司/市场部/品牌组"], ["E0101", "张三", "华东区"]]


def test_new_departments_without_the_choice_are_row_errors(org, tmp_path):
    before = paths()
    with pytest.raises(ImportValidationError) as error:
        run_employees(write_csv(tmp_path / "r.csv", NEW_DEPTS), create_departments=False)
    (message,) = error.value.messages
    assert message.startswith("第2行, 部门: 没有部门“总公司/市场部/品牌组”") and "勾选“新建以上部门”" in message
    assert paths() == before


def test_new_departments_with_the_choice_are_created_parents_first(org, tmp_path):
    summary = run_employees(write_csv(tmp_path / "r.csv", NEW_DEPTS), create_departments=True)
    assert summary["departments_created"] == 2
    assert {"总公司/市场部", "总公司/市场部/品牌组"} <= paths()
    assert dept_of("N1") == "总公司/市场部/品牌组" and dept_of("E0101") == "总公司/销售部/华东区"


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client


def upload(client, content: bytes):
    file = SimpleUploadedFile("花名册.csv", content, content_type="text/csv")
    client.post(reverse("groups:import_upload", args=["employees"]), {"file": file})
    return ImportJob.objects.latest("pk")


CSV = "工号,姓名,部门\nN1,甲,总公司/市场部/品牌组\nE0101,张三,华东区\n".encode()


def test_preview_offers_the_new_departments_and_confirm_honours_the_choice(org, hr_client):
    before = paths()
    job = upload(hr_client, CSV)
    assert job.status == ImportStatus.PREVIEWED and paths() == before
    assert job.preview["new_departments"] == ["总公司/市场部", "总公司/市场部/品牌组"]
    page = hr_client.get(reverse("groups:import_job", args=[job.pk])).content.decode()
    assert "系统里没有以下 2 个部门" in page and 'name="create_departments"' in page
    assert "新建以上 2 个部门" in page

    refused = hr_client.post(reverse("groups:import_confirm", args=[job.pk]), follow=True).content.decode()
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEWED and paths() == before
    assert "请勾选“新建以上部门”后再确认" in refused

    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.create_departments
    assert paths() == before | {"总公司/市场部", "总公司/市场部/品牌组"}


@pytest.mark.django_db(transaction=True)  # real commits: the reconciliation runs after the response
def test_the_done_page_says_reconciliation_ran_and_links_to_the_findings(org, hr_client):
    job = upload(hr_client, "工号,姓名,部门,状态\nE0101,张三,华东区,离职\n".encode())
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    page = hr_client.get(reverse("groups:import_job", args=[job.pk])).content.decode()
    assert "导入后已自动核查群成员:新发现" in page
    assert reverse("admin:groups_rosterfinding_changelist") + "?status__exact=open" in page


def test_the_done_page_says_reconciliation_is_queued_when_it_has_not_run(org, hr_client, monkeypatch):
    monkeypatch.setattr("groups.services._reconcile_after_commit", lambda: None)
    job = upload(hr_client, "工号,姓名,部门\nE0101,张三,华东区\n".encode())
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]))
    page = hr_client.get(reverse("groups:import_job", args=[job.pk])).content.decode()
    assert "导入后的群成员核查已排队,稍后自动进行。" in page


def test_the_done_page_counts_the_new_findings(org, hr_client):
    job = upload(hr_client, "工号,姓名,部门,状态\nE0101,张三,华东区,离职\n".encode())
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]))
    reconcile_all()  # as the queued task does
    job.refresh_from_db()
    from groups.findings import ReconcileRun

    created = sum(ReconcileRun.objects.latest("finished_at").summary["created"].values())
    assert created >= 1
    page = hr_client.get(reverse("groups:import_job", args=[job.pk])).content.decode()
    assert f"新发现 {created} 个问题" in page


def test_the_job_detail_in_the_admin_is_readable_not_json(org, hr_client):
    job = upload(hr_client, "工号,姓名,部门,状态\nE0101,张三,华东区,离职\n".encode())
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]))
    page = hr_client.get(reverse("admin:groups_importjob_change", args=[job.pk])).content.decode()
    assert "状态: 在职 → 离职" in page
    assert "<th>离职</th><td>1</td>" in page.replace("\n", "").replace("    ", "")
    assert '"summary"' not in page and "{&quot;" not in page and "&quot;created&quot;" not in page
    assert '<div class="readonly">否</div>' in page  # the create-departments choice, not a False icon
    assert "以下每类最多列出前 20 条" in page


def test_group_roster_changes_show_booleans_as_yes_no(org, hr_client, tmp_path):
    from groups.importing.roster import plan_roster, preview_roster, read_roster_file
    from groups.models import ChatGroup, Membership

    group = org["sales_group"]
    Membership.objects.create(group=group, nickname="华东区-张三", employee=org["east_rep"], is_admin=False)
    path = write_csv(tmp_path / "g.csv", [["群昵称", "群管理员"], ["华东区-张三", "是"]])
    preview = preview_roster(plan_roster(read_roster_file(path, group=group, groups=ChatGroup.objects.all())))
    (update,) = preview["updates"]
    assert [c for c in update["changes"] if c[1:] == ["否", "是"]], update["changes"]


def test_cli_flag_creates_departments(org, tmp_path):
    path = write_csv(tmp_path / "r.csv", NEW_DEPTS)
    with pytest.raises(CommandError, match="没有部门“总公司/市场部/品牌组”"):
        call_command("import_roster", "employees", str(path), verbosity=0)
    assert "总公司/市场部" not in paths()
    call_command("import_roster", "employees", str(path), "--create-departments", verbosity=0)
    assert dept_of("N1") == "总公司/市场部/品牌组"


def test_api_flag_creates_departments(org, hr):
    def post(**data):
        file = SimpleUploadedFile("花名册.csv", CSV, content_type="text/csv")
        return api_for(hr).post("/api/v1/imports/", {"file": file, "kind": "employees", **data}, format="multipart")

    refused = post(create_departments="false")
    assert refused.status_code == 400
    assert any("没有部门“总公司/市场部/品牌组”" in m for m in refused.json()["error"]["fields"]["file"])
    assert "总公司/市场部" not in paths()
    preview = post(dry_run="true").json()
    assert preview["preview"]["new_departments"] == ["总公司/市场部", "总公司/市场部/品牌组"]
    assert preview["preview"]["departments_need_consent"] is True
    done = api_for(hr).post(f"/api/v1/imports/{preview['id']}/confirm/", {"create_departments": "true"})
    assert done.status_code == 200 and done.json()["status"] == "done", done.content
    assert dept_of("N1") == "总公司/市场部/品牌组"
