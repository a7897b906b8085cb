"""The organisation: WeCom's directory (departments and members) against the HR roster.

Two ways, chosen by HR in 核查设置 (``RosterSettings.wecom_roster_source``):

- **HR is the source** (the default): nothing in the roster is changed. Each WeCom member is matched
  to the employee whose 企业微信账号 is their userid, and the mismatches are findings
  (``DirectoryFinding``): a WeCom member who is no employee, an employee departed in HR but still
  active in WeCom, a name that differs.
- **WeCom is the source**: the directory is written as an employee roster through the roster import
  itself (``services.import_employees`` on a generated CSV: the same validation, department
  creation, upsert, departures, audit entry and reconciliation marks as an HR upload). The 工号 of
  a member already on the roster is kept; a new member's 工号 is their userid.
"""

from __future__ import annotations

import csv
import tempfile
import unicodedata
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from ..choices import DirectoryFindingKind, EmployeeStatus, FindingStatus, ImportKind
from ..models import DirectoryFinding, Employee, RosterSettings, WeComUser
from .mapping import (
    USER_ACTIVE,
    USER_INACTIVE,
    USER_LEFT,
    Department,
    MappingError,
    User,
    department_paths,
    parse_departments,
    parse_users,
)

Call = Callable[..., dict]
STILL_IN_WECOM = {USER_ACTIVE, USER_INACTIVE}  # 已激活 / 未激活: the account is there; 禁用 and 退出 are not


def fetch_directory(call: Call, client) -> tuple[list[Department], list[User]]:
    """department/list, then user/list of each top department with its children (fetch_child=1)."""
    departments = parse_departments(call(client.department_list))
    ids = {d.id for d in departments}
    tops = [d.id for d in departments if d.parent_id not in ids] or [1]
    users: dict[str, User] = {}
    for top in tops:
        for user in parse_users(call(client.user_list, top)):
            users.setdefault(user.userid, user)
    return departments, list(users.values())


def _same_name(a: str, b: str) -> bool:
    fold = lambda s: unicodedata.normalize("NFKC", s).replace(" ", "").casefold()  # noqa: E731
    return fold(a) == fold(b)


def _employees_by_wecom() -> dict[str, tuple[int, str, str, str]]:
    """wecom_id → (pk, 工号, name, status); an id two employees share is left out (matches no one)."""
    out: dict[str, tuple[int, str, str, str]] = {}
    shared: set[str] = set()
    rows = Employee.objects.exclude(wecom_id="").values_list("wecom_id", "pk", "employee_no", "name", "status")
    for wecom_id, pk, no, name, status in rows.iterator(5000):
        if wecom_id in out:
            shared.add(wecom_id)
        out[wecom_id] = (pk, no, name, status)
    for wecom_id in shared:
        out.pop(wecom_id)
    return out


def directory_findings(
    users: list[User], employees: dict[str, tuple[int, str, str, str]]
) -> dict[tuple[str, str], tuple]:
    """(kind, userid) → (employee id, detail) of every mismatch that holds now."""
    found: dict[tuple[str, str], tuple] = {}
    for user in users:
        match = employees.get(user.userid)
        in_wecom = user.status in STILL_IN_WECOM
        if match is None:
            if in_wecom:
                found[(DirectoryFindingKind.NOT_EMPLOYEE, user.userid)] = (None, user.name[:300])
            continue
        pk, _no, name, status = match
        if status == EmployeeStatus.DEPARTED and in_wecom:
            found[(DirectoryFindingKind.DEPARTED_ACTIVE, user.userid)] = (pk, name[:300])
        if user.name and not _same_name(user.name, name):
            found[(DirectoryFindingKind.NAME_MISMATCH, user.userid)] = (
                pk,
                f"企业微信: {user.name}; 花名册: {name}"[:300],
            )
    return found


@transaction.atomic
def record_findings(found: dict[tuple[str, str], tuple], now: datetime) -> dict[str, int]:
    """New mismatches opened, those still there seen again, those gone resolved (set-based)."""
    open_rows = {
        (kind, userid): pk
        for pk, kind, userid in DirectoryFinding.objects.filter(status=FindingStatus.OPEN).values_list(
            "pk", "kind", "userid"
        )
    }
    new = [
        DirectoryFinding(kind=k, userid=u, employee_id=e, detail=d, first_seen_at=now, last_seen_at=now)
        for (k, u), (e, d) in found.items()
        if (k, u) not in open_rows
    ]
    DirectoryFinding.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    still = [pk for key, pk in open_rows.items() if key in found]
    gone = [pk for key, pk in open_rows.items() if key not in found]
    DirectoryFinding.objects.filter(pk__in=still).update(last_seen_at=now)
    DirectoryFinding.objects.filter(pk__in=gone).update(status=FindingStatus.RESOLVED, resolved_at=now)
    return {"directory_opened": len(new), "directory_open": len(new) + len(still), "directory_resolved": len(gone)}


def _save_users(users: list[User], paths: dict[int, str], employees: dict, now: datetime) -> None:
    rows = [
        WeComUser(
            userid=u.userid[:100],
            name=u.name[:100],
            status=u.status,
            department_path=paths.get(u.department_ids[0], "")[:1000] if u.department_ids else "",
            employee_id=employees.get(u.userid, (None,))[0],
            seen_at=now,
        )
        for u in users
    ]
    WeComUser.objects.bulk_create(
        rows,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["userid"],
        update_fields=["name", "status", "department_path", "employee", "seen_at"],
    )


def roster_csv(users: list[User], paths: dict[int, str], employees: dict, directory: Path) -> Path:
    """The directory as an employee roster file (工号, 姓名, 部门, 状态, 企业微信账号)."""
    path = directory / "wecom-directory.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["工号", "姓名", "部门", "状态", "企业微信账号"])
        for user in users:
            if not user.name:
                raise MappingError(
                    "user/list 没有返回姓名(仅有成员ID):以企业微信为花名册来源需要通讯录读取权限的 Secret"
                )
            number = employees.get(user.userid, (None, user.userid))[1]
            dept = paths.get(user.department_ids[0], "") if user.department_ids else ""
            status = "离职" if user.status == USER_LEFT else "在职"
            writer.writerow([number, user.name, dept, status, user.userid])
    return path


def sync_directory(departments: list[Department], users: list[User], *, acting_user, job) -> dict[str, Any]:
    """Save the directory as WeCom shows it, write it to the roster where HR chose so, and record the
    mismatches. Returns the counts for the run. Raises ImportValidationError when the generated
    roster has invalid rows (nothing written), MappingError when the answer lacks what is needed."""
    now = timezone.now()
    paths = department_paths(departments)
    employees = _employees_by_wecom()
    counts: dict[str, Any] = {"directory_users": len(users), "directory_departments": len(departments)}
    if RosterSettings.load().wecom_roster_source:
        from ..services import import_employees

        with tempfile.TemporaryDirectory(prefix="qungui-wecom-") as tmp:
            path = roster_csv(users, paths, employees, Path(tmp))
            job.kind = ImportKind.EMPLOYEES  # the audit entry names the roster import
            preview = import_employees(path, acting_user=acting_user, job=job, create_departments=True, reconcile=False)
            job.kind = ImportKind.GROUP
        counts["roster"] = {k: v for k, v in preview["summary"].items() if not isinstance(v, dict)}
        employees = _employees_by_wecom()
    with transaction.atomic():
        _save_users(users, paths, employees, now)
    counts.update(record_findings(directory_findings(users, employees), now))
    return counts
