"""An employee import creates its new departments in bulk: a fixed number of queries, a valid
treebeard tree laid out as ``add_child`` would lay it out, one audit entry."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from groups.models import Department, Employee, ImportJob
from groups.services import ensure_department_path

from .import_helpers import run_employees, write_csv

pytestmark = pytest.mark.django_db


def new_paths(prefix: str, count: int) -> list[str]:
    """``count`` departments in three levels below existing ones: new top-level branches under 总公司
    (their names sort before 技术部 and 销售部, so those move along), teams under the existing leaf
    华东区 and under 销售部 next to it. Returns the leaf paths (their parents are created too)."""
    leaves: list[str] = []
    made = 0
    i = 0
    while made < count:
        branch = f"总公司/{prefix}区{i:02d}"
        leaves_here = [f"{branch}/{prefix}组{j}" for j in range(3)] + [f"{branch}/{prefix}组0/{prefix}队"]
        leaves.extend(leaves_here)
        leaves.append(f"总公司/销售部/华东区/{prefix}小组{i:02d}")
        leaves.append(f"总公司/销售部/{prefix}分部{i:02d}")
        made += 1 + len(leaves_here) + 2
        i += 1
    return leaves


def roster(leaves: list[str], start: int) -> list[list]:
    return [["工号", "姓名", "部门"], *([f"N{start + n:05d}", f"新人{n}", path] for n, path in enumerate(leaves))]


def tree() -> dict[str, tuple[str, int, int]]:
    return {d.name_path: (d.path, d.depth, d.numchild) for d in Department.objects.all()}


def assert_valid() -> None:
    assert all(not problems for problems in Department.objects.find_problems())
    for dept in Department.objects.all():
        parent = Department.objects.get_parent(dept)
        expected = dept.name_path.rpartition("/")[0]
        assert (parent.name_path if parent else "") == expected
        assert dept.numchild == Department.objects.get_children(dept).count()


def one_by_one_layout(leaves: list[str]) -> dict[str, tuple[str, int, int]]:
    """The tree treebeard's add_child builds for the same departments (rolled back afterwards)."""
    layout: dict[str, tuple[str, int, int]] = {}
    try:
        with transaction.atomic():
            cache: dict[str, Department] = {}
            for leaf in leaves:
                ensure_department_path(leaf, cache=cache)
            layout = tree()
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    return layout


def import_counting(tmp_path, leaves: list[str], start: int) -> tuple[int, dict]:
    path = write_csv(tmp_path / f"r{start}.csv", roster(leaves, start))
    with CaptureQueriesContext(connection) as ctx:
        summary = run_employees(path, reconcile=False)
    return len(ctx.captured_queries), summary


def test_two_hundred_departments_in_bounded_queries_and_a_valid_tree(org, tmp_path):
    existing = {d.pk: (d.name, d.name_path, d.head_id, d.created_at) for d in Department.objects.all()}
    small, large = new_paths("甲", 20), new_paths("乙", 200)
    expected = one_by_one_layout(small + large)
    assert len(expected) - len(existing) >= 200

    small_queries, small_summary = import_counting(tmp_path, small, 0)
    large_queries, large_summary = import_counting(tmp_path, large, 1000)

    assert large_summary["departments_created"] >= 200 > small_summary["departments_created"] >= 20
    # The same statements, whatever the number of departments (the first import also fills caches).
    assert large_queries <= small_queries <= 25
    assert_valid()
    assert tree() == expected  # paths, depths and numchild exactly as add_child one by one
    # Existing departments keep their rows (their paths move only as add_child would move them).
    after = {d.pk: (d.name, d.name_path, d.head_id, d.created_at) for d in Department.objects.filter(pk__in=existing)}
    assert after == existing
    sales = Department.objects.get(name_path="总公司/销售部")
    assert Employee.objects.get(employee_no="E0101").department.name_path == "总公司/销售部/华东区"
    assert Department.objects.get(name_path="总公司/销售部/华东区").is_descendant_of(sales)
    assert Employee.objects.get(employee_no="N01000").department.name_path == large[0]
    assert Employee.objects.in_subtree(sales).filter(employee_no__startswith="N").count() == sum(
        "/销售部/" in leaf for leaf in small + large
    )


def test_bulk_created_departments_are_audited_by_the_import_entry_alone(org, tmp_path):
    leaves = new_paths("丙", 30)
    before = LogEntry.objects.count()
    summary = run_employees(write_csv(tmp_path / "r.csv", roster(leaves, 0)), reconcile=False)
    entries = LogEntry.objects.filter(pk__gt=LogEntry.objects.order_by("pk")[before - 1].pk if before else 0)
    department_entries = entries.filter(content_type__model="department")
    assert not department_entries.exists()
    job_entry = entries.get(content_type__model="importjob", object_pk=str(ImportJob.objects.latest("pk").pk))
    created = job_entry.additional_data["departments_created"]
    assert len(created) == summary["departments_created"] and set(leaves) <= set(created)
    assert_valid()


def test_a_later_department_goes_where_treebeard_puts_it(org, tmp_path):
    run_employees(write_csv(tmp_path / "r.csv", roster(new_paths("丁", 10), 0)), reconcile=False)
    ensure_department_path("总公司/丁区00/丁组00")  # add_child on the bulk-built tree
    ensure_department_path("总公司/一部")  # sorts first among the root's children
    assert_valid()
    names = [d.name for d in Department.objects.get_children(Department.objects.get(name_path="总公司"))]
    assert names == sorted(names)
