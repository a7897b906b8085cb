"""An upload is read and validated once: the confirm writes from the rows its validation kept."""

import datetime

import pytest
from django.urls import reverse

from groups import services
from groups.choices import ImportStatus
from groups.importing import staging
from groups.importing.employees import EmployeeFile
from groups.models import Employee, ImportJob, StagedImport

from .test_import_admin import upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr_client(client, hr):
    client.force_login(hr)
    return client


def _no_second_read(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the confirm read the file again")

    monkeypatch.setattr(services, "read_employee_file", refuse)


def test_the_preview_keeps_the_rows_and_the_confirm_does_not_read_the_file(hr_client, monkeypatch):
    upload(hr_client)
    job = ImportJob.objects.get()
    assert job.status == ImportStatus.PREVIEWED
    assert StagedImport.objects.filter(job=job).exists()

    _no_second_read(monkeypatch)
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.errors
    assert (job.summary["created"], job.summary["updated"], job.summary["departed"]) == (1, 2, 1)
    new = Employee.objects.get(employee_no="N0001")
    assert (new.department.name_path, new.hire_date) == ("总公司/市场部", datetime.date(2026, 11, 3))
    assert Employee.objects.get(employee_no="E0200").departure_date == datetime.date(2026, 11, 1)
    assert not StagedImport.objects.exists()  # personal data goes with the upload


def test_the_confirm_plans_the_kept_rows_against_the_database_again(hr_client, monkeypatch):
    upload(hr_client)
    job = ImportJob.objects.get()
    assert job.preview["summary"]["updated"] == 2
    # Between preview and confirm, someone gives 张三 the title the file has: only 陈技术 is left to update.
    Employee.objects.filter(employee_no="E0101").update(title="高级销售")
    _no_second_read(monkeypatch)
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert (job.summary["created"], job.summary["updated"], job.summary["unchanged"]) == (1, 1, 1)


def test_without_kept_rows_the_confirm_reads_the_file(hr_client):
    upload(hr_client)
    job = ImportJob.objects.get()
    StagedImport.objects.all().delete()  # validated before the rows were kept
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE and job.summary["created"] == 1


def test_a_stage_of_another_format_is_not_used(hr_client):
    upload(hr_client)
    job = ImportJob.objects.get()
    StagedImport.objects.filter(job=job).update(rows={"format": 0})
    assert staging.staged_employees(job) is None
    hr_client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
    job.refresh_from_db()
    assert job.status == ImportStatus.DONE


def test_cancelling_deletes_the_kept_rows(hr_client):
    upload(hr_client)
    job = ImportJob.objects.get()
    hr_client.post(reverse("groups:import_cancel", args=[job.pk]))
    assert not StagedImport.objects.exists()


def test_an_invalid_file_keeps_nothing(hr_client):
    upload(hr_client, content="工号,姓名,部门,入职日期\nX1,,总公司,2026-02-30\n".encode())
    assert ImportJob.objects.get().status == ImportStatus.INVALID
    assert not StagedImport.objects.exists()


def test_a_validation_that_ends_after_a_cancel_keeps_nothing(hr_client, monkeypatch):
    original = services._execute_employees

    def cancelled_meanwhile(job, *args, **kwargs):
        preview = original(job, *args, **kwargs)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.CANCELLED)
        return preview

    monkeypatch.setattr(services, "_execute_employees", cancelled_meanwhile)
    upload(hr_client)
    assert ImportJob.objects.get().status == ImportStatus.CANCELLED
    assert not StagedImport.objects.exists()


def test_rows_round_trip_with_dates_and_department_codes():
    data = EmployeeFile("gb18030", ("name", "department", "hire_date", "departure_date", "status"))
    data.rows = {
        "E1": ("张三", "总公司/销售部", datetime.date(2020, 1, 2), None, "active"),
        "00123": ("李四", "华东区", None, datetime.date(2026, 5, 6), "departed"),
    }
    data.numbers = {"E1": 2, "00123": 5}
    data.department_codes = {"00123": "D-7"}
    back = staging._decode(staging.encode_employees(data))
    assert (back.encoding, back.fields, back.rows, back.numbers, back.department_codes) == (
        data.encoding,
        data.fields,
        data.rows,
        data.numbers,
        data.department_codes,
    )
    assert list(back.rows) == list(data.rows)  # file order kept (errors and previews follow it)
