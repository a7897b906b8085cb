"""A whole month of Qungui over HTTP, for scripts/prodlike_scenario.py (gunicorn + Celery worker + beat).

Everything goes through the pages HR uses: the admin creates the HR user (signed in as the operator's
superuser, created by ``manage.py createsuperuser`` as docs/operations.md says), the import pages take
the rosters (upload → preview → confirm; the files are larger than ROSTER_IMPORT_ASYNC_ROWS, so the
worker validates and writes them while the page polls the progress JSON), the findings admin queues a
reconciliation on the worker, the record form records violations, the deductions admin computes the
month on the worker, and the report pages export it. The month is the previous calendar month, as
HR runs it on the 1st.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from prodlike_http import Browser, check, form_with, poll

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ZoneInfo("Asia/Shanghai")
EMPLOYEE_ROWS = 6000  # above ROSTER_IMPORT_ASYNC_ROWS (5000): validated and written by the worker
DEPARTMENTS = ["总公司/销售部/华东区", "总公司/销售部/华南区", "总公司/技术部/平台组", "总公司/人力资源部"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
FORMULA_NAME = "=1+2"  # an employee name that a spreadsheet would run as a formula


@dataclass
class Month:
    """What the scenario created, and what it expects to find again."""

    tag: str = field(default_factory=lambda: secrets.token_hex(2).upper())
    first_day: datetime.date = field(init=False)
    ids: dict[str, str] = field(default_factory=dict)  # admin object ids found through autocomplete

    def __post_init__(self) -> None:
        today = datetime.datetime.now(SHANGHAI).date()
        self.first_day = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)

    @property
    def label(self) -> str:
        return f"{self.first_day:%Y-%m}"

    def employee_no(self, index: int) -> str:
        return f"M{self.tag}{index:05d}"

    def group_name(self, letter: str) -> str:
        return f"华东区工作群{letter}-{self.tag}"

    @property
    def offender(self) -> str:  # three warnings → a demerit
        return self.employee_no(1)

    @property
    def departed(self) -> str:  # left the company, still in group A
        return self.employee_no(2)

    @property
    def formula(self) -> str:  # named FORMULA_NAME, one violation
        return self.employee_no(3)


# --- 0. The operator's superuser and HR's account ---------------------------------------------------


def create_superuser() -> tuple[str, str]:
    """``manage.py createsuperuser --noinput``, as the operator does once after installing."""
    username, password = "ops_admin", secrets.token_urlsafe(16)
    env = {**os.environ, "DJANGO_SUPERUSER_PASSWORD": password}
    command = [sys.executable, "manage.py", "createsuperuser", "--noinput", "--username", username]
    command += ["--email", "ops@example.com"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)  # noqa: S603 (fixed argv)
    check(done.returncode == 0, "manage.py createsuperuser" + (f": {done.stderr[-300:]}" if done.returncode else ""))
    return username, password


def create_hr_user(admin: Browser) -> tuple[str, str]:
    """The superuser adds HR's account in the admin: staff, in the HR管理员 group."""
    username, password = "demo_hr", secrets.token_urlsafe(16)
    added = admin.submit(
        "/admin/auth/user/add/", "password1", username=username, password1=password, password2=password
    )
    change_url = re.search(r"/admin/auth/user/(\d+)/change/", added.url)
    check(added.status_code == 200 and change_url is not None, f"admin: user {username} added ({added.status_code})")
    page = admin.get(change_url.group(0))
    hr_group = form_with(page.text, "groups").option("groups", "HR管理员")
    saved = admin.submit(
        change_url.group(0), "groups", follow=False, first_name="演示HR", is_staff="on", groups=[hr_group]
    )
    check(saved.status_code == 302, f"admin: {username} made staff and HR管理员 ({saved.status_code})")
    return username, password


# --- 1. Rosters: upload → preview → confirm, the worker validating and writing ------------------------


def _name(index: int) -> str:
    return SURNAMES[index % len(SURNAMES)] + GIVEN[index // 20 % len(GIVEN)] + GIVEN[index // 500 % len(GIVEN)]


def employee_rows(month: Month) -> list[list[str]]:
    """工号 1: the offender; 2: departed last month; 3: a formula-like name; 4: the groups' owner."""
    special = {1: ("王小明", "在职", ""), 2: ("李离职", "离职", f"{month.first_day + datetime.timedelta(days=4)}")}
    special |= {3: (FORMULA_NAME, "在职", ""), 4: ("赵群主", "在职", "")}
    rows = [["工号", "姓名", "部门", "职位", "状态", "入职日期", "离职日期", "微信号"]]
    for index in range(1, EMPLOYEE_ROWS + 1):
        name, status, left = special.get(index, (_name(index), "在职", ""))
        department = DEPARTMENTS[0] if index in special else DEPARTMENTS[index % len(DEPARTMENTS)]
        number = month.employee_no(index)
        rows.append([number, name, department, "专员", status, "2020-03-01", left, wechat(month, index)])
    return rows


def wechat(month: Month, index: int) -> str:
    return f"wx_{month.tag.lower()}_{index}"


def roster_rows(month: Month, employees: list[list[str]]) -> list[list[str]]:
    """Group A and B share the staff (A: odd 工号, B: even), nicknames 部门-姓名; B also has an outsider."""
    rows = [["群名称", "群昵称", "微信号", "群管理员"]]
    for index, employee in enumerate(employees[1:5601], start=1):
        group = month.group_name("A" if index % 2 or index == 2 else "B")
        nickname = f"{employee[2].rsplit('/', 1)[-1]}-{employee[1]}"
        rows.append([group, nickname, employee[7], "是" if index == 4 else "否"])
    rows.append([month.group_name("B"), "客户-老周", f"wx_outsider_{month.tag.lower()}", "否"])
    return rows


def gbk_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("gbk")


def xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    # Write-only, as report generators write them: no <dimension> element, so the import must count the
    # rows itself to send the file to the worker (logcheck: two validate_import_task runs).
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _progress(hr: Browser, job: str) -> dict:
    response = hr.get(f"/groups/import/job/{job}/progress/")
    if response.status_code != 200:
        check(False, f"import job {job} progress JSON ({response.status_code})")
    return response.json()


def _wait(hr: Browser, job: str, what: str, timeout: float) -> dict:
    seen: list[str] = []

    def probe() -> dict | None:
        state = _progress(hr, job)
        if not seen or seen[-1] != state["status"]:
            seen.append(state["status"])
        return None if state["working"] else state

    state = poll(probe, what=f"import job {job} {what}", timeout=timeout)
    print(f"     progress of job {job} ({what}): {' → '.join(seen)}")
    return state


def import_roster(hr: Browser, kind: str, filename: str, content: bytes) -> str:
    """Upload on the import page, wait for the worker's preview, confirm, wait for the worker's import."""
    page = hr.get(f"/groups/import/{kind}/")
    check(page.status_code == 200, f"import page {kind}")
    data = {"csrfmiddlewaretoken": hr.csrf(), "group": ""}
    upload = hr.post(f"/groups/import/{kind}/", data=data, files={"file": (filename, content)})
    job = re.fullmatch(r"/groups/import/job/(\d+)/", upload.headers.get("Location", ""))
    check(upload.status_code == 302 and job is not None, f"{filename} uploaded ({upload.status_code})")
    job_id = job.group(1)
    state = _wait(hr, job_id, "validated", 90)
    check(state["status"] == "previewed", f"{filename}: preview ready, {state['total']} rows ({state['status']})")
    preview = hr.get(f"/groups/import/job/{job_id}/")
    check(preview.status_code == 200 and "确认导入" in preview.text, f"{filename}: preview page with 确认导入")
    confirm_data = {"csrfmiddlewaretoken": hr.csrf()}
    if 'name="create_departments"' in preview.text:
        # The first roster of a new portal names departments it does not have yet: the preview lists
        # them and HR ticks 新建以上部门, as a clerk would (never a side effect of the import).
        check("系统里没有以下" in preview.text, f"{filename}: preview lists the departments to create")
        confirm_data["create_departments"] = "on"
    confirm = hr.post(f"/groups/import/job/{job_id}/confirm/", data=confirm_data)
    check(confirm.status_code == 302, f"{filename}: confirmed ({confirm.status_code})")
    state = _wait(hr, job_id, "imported", 120)
    check(state["status"] == "done", f"{filename}: imported by the worker ({state['status']})")
    return job_id


def import_employees(hr: Browser, month: Month) -> list[list[str]]:
    rows = employee_rows(month)
    import_roster(hr, "employees", "花名册.csv", gbk_csv(rows))
    found = hr.get("/admin/groups/employee/", params={"q": month.departed})
    check("李离职" in found.text and "离职" in found.text, f"employee list: {month.departed} 李离职, departed")
    return rows


def create_groups(hr: Browser, month: Month) -> None:
    """Group A (approved) and group B, in 华东区, owned by 赵群主, through the admin's add form."""
    department = hr.autocomplete("groups", "chatgroup", "department", "华东区")
    owner = hr.autocomplete("groups", "chatgroup", "owner", month.employee_no(4))
    approved = {"approved_by": owner, "approved_at_0": f"{month.first_day}", "approved_at_1": "09:00:00"}
    for letter, extra in (("A", approved), ("B", {})):
        fields = {"name": month.group_name(letter), "platform": "wechat", "kind": "department"}
        saved = hr.submit(
            "/admin/groups/chatgroup/add/", "name", follow=False, department=department, owner=owner, **fields, **extra
        )
        check(saved.status_code == 302, f"admin: chat group {fields['name']} created ({saved.status_code})")
        month.ids[letter] = hr.autocomplete("violations", "violation", "group", fields["name"])


def import_group_roster(hr: Browser, month: Month, employees: list[list[str]]) -> None:
    import_roster(hr, "group", "群成员.xlsx", xlsx(roster_rows(month, employees)))
    members = hr.get("/admin/groups/membership/", params={"q": month.offender})
    check(month.group_name("A") in members.text, f"membership list: {month.offender} in {month.group_name('A')}")


# --- 2. Reconciliation on the worker ---------------------------------------------------------------


def _listed(hr: Browser, url: str, params: dict, *needles: str) -> str | None:
    page = hr.get(url, params=params)
    if page.status_code != 200:
        check(False, f"GET {url} {params} ({page.status_code})")
    body = _result_rows(page.text)  # not the header: its sort links repeat the search term
    return page.text if body and all(needle in body for needle in needles) else None


def _result_rows(html: str) -> str:
    """The <tbody> of the admin's result list ("" when the list is empty)."""
    table = html.split('id="result_list"', 1)
    return table[1].split("<tbody>", 1)[-1].split("</tbody>", 1)[0] if len(table) == 2 else ""


def reconcile(hr: Browser, month: Month) -> None:
    """The group roster import queued a reconciliation (groups.services): the worker's findings list the
    departed member and the outsider. Then HR presses 立即核查 for another run (logcheck counts the runs)."""
    findings = "/admin/groups/rosterfinding/"
    departed = {"q": month.departed, "kind__exact": "departed_member"}
    html = poll(lambda: _listed(hr, findings, departed, "李离职"), what="departed-member finding listed", timeout=90)
    check(_count(html, "李离职") == 1, f"finding: 离职员工仍在群 {month.departed} 李离职, once")
    outsider = {"q": "客户-老周", "kind__exact": "outsider"}
    check(_listed(hr, findings, outsider, month.group_name("B")) is not None, "finding: 非本公司人员在群 客户-老周")
    page = hr.get(findings)
    check("立即核查" in page.text and "reconcile-now/" in page.text, "findings admin offers 立即核查")
    queued = hr.post(f"{findings}reconcile-now/", data={"csrfmiddlewaretoken": hr.csrf()})
    queued = hr.get(queued.headers.get("Location", findings))
    check(queued.status_code == 200 and "已提交核查任务" in queued.text, "findings admin: 立即核查 queued")


def _count(html: str, needle: str) -> int:
    return sum(1 for row in _result_rows(html).split("<tr")[1:] if needle in row)


# --- 3. Violations through the record form; the ladder ------------------------------------------------


def record_violation(hr: Browser, month: Month, employee_no: str, rule: str, day: int, kinds: list[str]) -> None:
    page = hr.get("/admin/violations/violation/add/")
    form = form_with(page.text, "description")
    employee = hr.autocomplete("violations", "violation", "employee", employee_no)
    moment = month.first_day.replace(day=day)
    saved = hr.submit(
        "/admin/violations/violation/add/",
        "description",
        follow=False,
        employee=employee,
        group=month.ids["A"],
        rule=form.option("rule", rule),
        occurred_at_0=f"{moment}",
        occurred_at_1="10:30:00",
        description=f"{rule} 于 {moment} 在{month.group_name('A')}",
        sanction_kinds=kinds,
        apply_now="on",
    )
    check(saved.status_code == 302, f"record form: {employee_no} {rule} on {moment} {kinds} ({saved.status_code})")


def violations(hr: Browser, month: Month) -> None:
    """Three warnings (C04) for the offender → the ladder adds a demerit; one reminder for FORMULA_NAME."""
    for day in (5, 12, 19):
        record_violation(hr, month, month.offender, "C04", day, ["warning"])
    record_violation(hr, month, month.formula, "C08", 20, ["reminder"])
    listed = _listed(
        hr, "/admin/violations/sanction/", {"q": month.offender, "kind__exact": "demerit", "is_derived__exact": "1"}
    )
    check(listed is not None and "王小明" in listed, f"sanction list: derived 记过 for {month.offender} 王小明")
    forfeit = _listed(hr, "/admin/violations/sanction/", {"q": month.offender, "kind__exact": "forfeit_month"})
    check(forfeit is not None, "sanction list: 扣当月全额绩效 with the demerit")
    found = _listed(hr, "/admin/violations/violation/", {"q": month.offender}, "王小明")
    check(found is not None and found.count("警告") >= 3, "violation list: three 警告 for 王小明")


# --- 4. The month's deductions, computed on the worker ------------------------------------------------


def _cell(row: str, column: str) -> str:
    match = re.search(rf'<td class="field-{column}[^"]*">(.*?)</td>', row, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def _row(html: str, needle: str) -> str:
    return next((row for row in _result_rows(html).split("<tr")[1:] if needle in row), "")


def deductions(hr: Browser, month: Month) -> None:
    """HR computes the month in the deductions admin (a worker task); the offender's row shows the demerit."""
    page = hr.get("/admin/violations/performancemonth/")
    check("计算月份" in page.text, "deductions admin offers 计算月份")
    queued = hr.submit("/admin/violations/performancemonth/compute/", "month", follow=False, month=month.label)
    check(queued.status_code == 302, f"compute deductions for {month.label} queued ({queued.status_code})")
    rows = "/admin/violations/performancededuction/"
    html = poll(
        lambda: _listed(hr, rows, {"month": month.label, "q": month.offender}, month.offender),
        what=f"deduction row of {month.offender}",
        timeout=120,
    )
    row = _row(html, month.offender)
    values = {column: _cell(row, column) for column in ("points_deducted", "final_score", "sanction_count")}
    forfeit = 'alt="True"' in row.split("field-forfeit", 1)[-1].split("</td>", 1)[0]
    check(forfeit and values["final_score"] == "0", f"deduction {month.offender}: forfeit, final 0 ({values})")
    check(int(values["points_deducted"] or 0) >= 6, f"deduction {month.offender}: three warnings' points deducted")
    other = _listed(hr, rows, {"month": month.label, "q": month.employee_no(4)}, month.employee_no(4))
    clean = _row(other or "", month.employee_no(4))
    check(_cell(clean, "points_deducted") == "0", f"deduction {month.employee_no(4)} (no violation): nothing deducted")


# --- 5. The monthly report: CSV streamed by the page, XLSX built by the worker ------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _report_csv(hr: Browser, month: Month) -> None:
    response = hr.submit("/violations/export/", "file_format", follow=False, month=month.label, file_format="csv")
    check(response.status_code == 200 and "text/csv" in response.headers.get("Content-Type", ""), "report CSV")
    check(response.content.startswith(b"\xef\xbb\xbf"), "report CSV: UTF-8 with BOM (Excel in China)")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    offender = [row for row in rows if month.offender in row]
    check(len(offender) == 3 and all("C04" in " ".join(row) for row in offender), "report CSV: 王小明's three C04")
    formula = [row for row in rows if month.formula in row]
    check(len(formula) == 1 and f"'{FORMULA_NAME}" in formula[0], f"report CSV: {FORMULA_NAME} written as text")
    live = [cell for row in rows[1:] for cell in row if cell.startswith(FORMULA_STARTS)]
    check(not live, f"report CSV: no cell starts a formula ({live[:3]})")


def _report_xlsx(hr: Browser, month: Month) -> None:
    from openpyxl import load_workbook

    queued = hr.submit("/violations/export/", "file_format", follow=False, month=month.label, file_format="xlsx")
    job = re.fullmatch(r"/violations/export/jobs/(\d+)/", queued.headers.get("Location", ""))
    check(queued.status_code == 302 and job is not None, f"report XLSX queued ({queued.status_code})")
    status_url = f"/violations/export/jobs/{job.group(1)}/status/"
    state = poll(lambda: (s := hr.get(status_url).json())["finished"] and s, what="XLSX report built", timeout=90)
    check(state["status"] == "done" and bool(state["download_url"]), f"report XLSX built by the worker ({state})")
    download = hr.get(state["download_url"])
    check(download.status_code == 200 and download.content.startswith(b"PK"), "report XLSX downloaded")
    book = load_workbook(io.BytesIO(download.content))
    cells = [cell for sheet in book.worksheets for row in sheet.iter_rows() for cell in row if cell.value is not None]
    values = [str(cell.value) for cell in cells]
    check(
        values.count(month.offender) >= 3, f"report XLSX: {month.offender}'s violations ({len(book.worksheets)} sheets)"
    )
    check(f"'{FORMULA_NAME}" in values, f"report XLSX: {FORMULA_NAME} written as text")
    formulas = [cell.coordinate for cell in cells if cell.data_type == "f" or str(cell.value).startswith("=")]
    check(not formulas, f"report XLSX: no formula cell ({formulas[:3]})")


def report(hr: Browser, month: Month) -> None:
    _report_csv(hr, month)
    _report_xlsx(hr, month)
