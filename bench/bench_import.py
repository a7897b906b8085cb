"""Employee roster import benchmark: Qungui against a COPY-based floor and django-import-export.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_import python bench/bench_import.py [--rows 100000]

Runs on a throw-away test database (test_<name>) of the configured DB and prints, in one run:
(a) the floor: COPY the CSV into a staging table + one INSERT … ON CONFLICT upsert (PostgreSQL only);
(b) Qungui's import (first import, then re-import of the unchanged file) and its peak memory
    (max RSS of a child process that runs only the import, minus the same process before it);
(c) a default django-import-export ModelResource import of a --die-rows sample, extrapolated;
(d) the admin upload → preview → confirm of the same file through Django's test client (tasks
    in-process, as in the embedded default): the confirm request's time and queries when it writes
    from the rows the preview kept (groups.importing.staging), against the same confirm reading and
    validating the file again (the stage removed first: what every confirm did before).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂"
REGIONS = ["华东区", "华南区", "华北区", "西南区", "东北区"]
DEPTS = ["销售部", "技术部", "财务部", "人力资源部", "市场部", "客服部", "采购部", "法务部"]
HEADER = ["工号", "姓名", "部门", "职位", "状态", "入职日期", "离职日期", "微信号"]


def department_paths(count: int) -> list[str]:
    paths = [f"总公司/{d}/{r}" for d in DEPTS for r in REGIONS]
    teams = [f"{p}/第{i}组" for i in range(1, 10) for p in paths]
    return (paths + teams)[:count]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rnd = random.Random(seed)
    depts = department_paths(200)
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        for i in range(1, rows + 1):
            departed = rnd.random() < 0.1
            year = rnd.randint(2010, 2025)
            out.writerow(
                [
                    f"E{i:07d}",
                    rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                    rnd.choice(depts),
                    rnd.choice(["销售代表", "工程师", "经理", "专员", "主管"]),
                    "离职" if departed else "在职",
                    f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
                    f"{year + 1}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}" if departed else "",
                    f"wx_{i:07d}",
                ]
            )


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def truncate_employees() -> None:
    # Not queryset.delete(): it sends per-object signals (auditlog writes 100k entries).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM groups_employee")
        if connection.vendor == "postgresql":
            # Rewrite the table and its indexes: the next load must not pay for 100k dead tuples.
            cursor.execute("VACUUM FULL ANALYZE groups_employee")


def floor_copy(path: Path) -> float:
    """COPY the file into a staging table, then one INSERT … SELECT … ON CONFLICT DO UPDATE."""
    from django.db import connection, transaction

    sql = """
        INSERT INTO groups_employee (employee_no, name, department_id, title, status, hire_date, departure_date,
            wechat_id, wecom_id, qq_id, dingtalk_id, email, created_at, updated_at)
        SELECT s.no, s.name, d.id, s.title, CASE s.status WHEN '离职' THEN 'departed' ELSE 'active' END,
            s.hired, s.departed, s.wechat, '', '', '', '', now(), now()
        FROM stage s JOIN groups_department d ON d.name_path = s.dept
        ON CONFLICT (employee_no) DO UPDATE SET name = EXCLUDED.name, department_id = EXCLUDED.department_id,
            title = EXCLUDED.title, status = EXCLUDED.status, hire_date = EXCLUDED.hire_date,
            departure_date = EXCLUDED.departure_date, wechat_id = EXCLUDED.wechat_id, updated_at = now()
        WHERE (groups_employee.name, groups_employee.department_id, groups_employee.title, groups_employee.status,
            groups_employee.hire_date, groups_employee.departure_date, groups_employee.wechat_id)
            IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.department_id, EXCLUDED.title, EXCLUDED.status,
            EXCLUDED.hire_date, EXCLUDED.departure_date, EXCLUDED.wechat_id)
    """

    def run():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE stage (no text, name text, dept text, title text, status text, hired date,"
                " departed date, wechat text) ON COMMIT DROP"
            )
            with path.open("rb") as fh, cursor.cursor.copy("COPY stage FROM STDIN WITH (FORMAT csv, HEADER)") as cp:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
            cursor.execute(sql)

    return timed(run)[0]


def qungui_import(path: Path) -> tuple[float, dict]:
    from groups.choices import ImportKind
    from groups.services import create_import_job, import_employees

    job = create_import_job(kind=ImportKind.EMPLOYEES, acting_user=None, original_name=path.name)
    return timed(lambda: import_employees(path, acting_user=None, job=job, reconcile=False)["summary"])


def die_import(path: Path, rows: int) -> float:
    """A default ModelResource (ForeignKeyWidget for the department) on the first ``rows`` rows."""
    import tablib
    from import_export import fields, resources, widgets

    from groups.models import Department, Employee

    class EmployeeResource(resources.ModelResource):
        department = fields.Field(
            attribute="department", column_name="department", widget=widgets.ForeignKeyWidget(Department, "name_path")
        )

        class Meta:
            model = Employee
            import_id_fields = ["employee_no"]
            fields = (
                "employee_no",
                "name",
                "department",
                "title",
                "status",
                "hire_date",
                "departure_date",
                "wechat_id",
            )

    with path.open(encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        data = tablib.Dataset(headers=list(EmployeeResource.Meta.fields))
        for i, row in enumerate(reader):
            if i >= rows:
                break
            row[4] = "departed" if row[4] == "离职" else "active"
            data.append([v or None if k in (5, 6) else v for k, v in enumerate(row)])
    seconds, result = timed(lambda: EmployeeResource().import_data(data, dry_run=False, raise_errors=True))
    assert result.totals["new"] == len(data), result.totals
    return seconds


def child_memory(path: Path) -> None:
    """Run in a child: print the max RSS growth (MiB) of one Qungui import."""
    import django

    django.setup()
    import tracemalloc

    from memory import peak_mib, reset_peak, rss_mib

    # VmHWM of this process, reset first: ru_maxrss would carry the parent's peak across exec.
    before = rss_mib()
    reset_peak()
    tracemalloc.start()
    qungui_import(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    after = peak_mib()
    print(f"{before:.1f} {after:.1f} {peak / 2**20:.1f}")


def measure_memory(path: Path, db_name: str) -> tuple[float, float, float]:
    env = {**os.environ, "BENCH_TEST_DB": db_name}
    out = subprocess.run(
        [sys.executable, __file__, "--child-memory", str(path)], env=env, capture_output=True, text=True, check=True
    )
    before, after, peak = (float(v) for v in out.stdout.split()[-3:])
    return before, after, peak


def admin_confirm(path: Path, *, staged: bool) -> tuple[float, float, int, dict]:
    """Upload and confirm ``path`` as HR through the admin pages: (upload s, confirm s, confirm queries, summary)."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from groups.models import ImportJob, StagedImport

    user = User.objects.filter(username="bench_import_hr").first() or User.objects.create_superuser(
        "bench_import_hr", "hr@example.cn", "bench-pass"
    )
    client = Client()
    client.force_login(user)
    with path.open("rb") as fh:
        upload, response = timed(lambda: client.post(reverse("groups:import_upload", args=["employees"]), {"file": fh}))
    job = ImportJob.objects.order_by("-pk").first()
    assert response.status_code == 302 and job.status == "previewed", (response.status_code, job.status, job.errors)
    if not staged:
        StagedImport.objects.filter(job=job).delete()
    with CaptureQueriesContext(connection) as queries:
        confirm, response = timed(
            lambda: client.post(reverse("groups:import_confirm", args=[job.pk]), {"create_departments": "on"})
        )
    job.refresh_from_db()
    assert job.status == "done", (job.status, job.errors)
    return upload, confirm, len(queries.captured_queries), job.summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--die-rows", type=int, default=10_000)
    parser.add_argument("--child-memory")
    args = parser.parse_args()
    if args.child_memory:
        _use_test_db(os.environ["BENCH_TEST_DB"])
        return child_memory(Path(args.child_memory))
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    db_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        run(args, db_name)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _use_test_db(name: str) -> None:
    import django
    from django.conf import settings

    django.setup()
    settings.DATABASES["default"]["NAME"] = name
    from django.db import connections

    connections["default"].settings_dict["NAME"] = name


def run(args, db_name: str) -> None:
    from django.db import connection

    from groups.services import ensure_department_path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roster.csv"
        seconds, _ = timed(lambda: generate(path, args.rows))
        print(
            f"generated {args.rows} rows ({path.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s on {connection.vendor}"
        )
        cache: dict = {}
        for dept in department_paths(200):
            ensure_department_path(dept, cache=cache)
        floor = None
        if connection.vendor == "postgresql":
            floor = floor_copy(path)
            print(f"(a) floor COPY + INSERT … ON CONFLICT:   {floor:7.2f} s")
            truncate_employees()
        first, summary = qungui_import(path)
        print(f"(b) qungui first import:                 {first:7.2f} s  {summary}")
        again, summary = qungui_import(path)
        print(f"    qungui re-import (unchanged file):    {again:7.2f} s  {summary}")
        truncate_employees()
        if floor:
            # The machine's load drifts: measure the floor again after Qungui and use the mean.
            floor_again = floor_copy(path)
            print(f"(a) floor again:                          {floor_again:7.2f} s")
            floor = (floor + floor_again) / 2
            truncate_employees()
        before, after, peak = measure_memory(path, db_name) if connection.vendor == "postgresql" else (0, 0, 0)
        if after:
            print(f"    Python allocations peak (tracemalloc): {peak:7.1f} MiB")
            print(
                f"    peak RSS of a first import:          {after:7.1f} MiB (process before import: {before:.1f} MiB)"
            )
        truncate_employees()
        if connection.vendor == "postgresql":
            for staged in (False, True, False, True):  # alternated: the machine's load drifts
                upload, confirm, queries, summary = admin_confirm(path, staged=staged)
                how = "from the preview's rows" if staged else "reading the file again"
                print(
                    f"(d) admin upload {upload:6.2f} s; confirm {how:<24} {confirm:6.2f} s, {queries} queries "
                    f"(created {summary['created']})"
                )
                truncate_employees()
        sample = min(args.die_rows, args.rows)
        die = die_import(path, sample)
        rate = sample / die
        print(
            f"(c) django-import-export, {sample} rows:   {die:7.2f} s  ({rate:.0f} rows/s, "
            f"≈{args.rows / rate:.0f} s for {args.rows})"
        )
        if floor:
            print(f"ratio qungui/floor(mean): {first / floor:.2f} (must be ≤ 2); re-import/floor: {again / floor:.2f}")
        print(f"ratio django-import-export (extrapolated)/qungui: {args.rows / rate / first:.0f}×")


if __name__ == "__main__":
    main()
