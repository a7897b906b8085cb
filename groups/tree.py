"""The department tree loaded once (one query) for jobs that walk it many times.

Reconciliation reads each department's ancestors for nickname conventions ({parent}, {subsidiary},
{company}) and looks up the nearest active head for owner succession and overdue notices.
"""

from __future__ import annotations

from dataclasses import dataclass

from .choices import EmployeeStatus
from .models import Department

ACTIVE = EmployeeStatus.ACTIVE


@dataclass(frozen=True)
class DeptInfo:
    pk: int
    path: str
    name: str
    head_id: int | None
    head_active: bool
    head_name: str


class DeptTree:
    """Every department by id and path (one query), for nickname parts and head look-ups."""

    def __init__(self) -> None:
        rows = Department.objects.order_by().values_list("pk", "path", "name", "head_id", "head__status", "head__name")
        self.by_id = {row[0]: DeptInfo(*row[:4], row[4] == ACTIVE, row[5] or "") for row in rows}
        self.by_path = {d.path: d for d in self.by_id.values()}
        self.steplen = Department.steplen
        self._parts: dict[int, dict[str, str]] = {}

    def ancestor_name(self, path: str, depth: int) -> str:
        node = self.by_path.get(path[: depth * self.steplen]) if len(path) >= depth * self.steplen else None
        return node.name if node else ""

    def parts(self, dept_id: int) -> dict[str, str]:
        """Convention values that come from the department: department, parent, subsidiary, company."""
        if dept_id not in self._parts:
            dept = self.by_id[dept_id]
            depth = len(dept.path) // self.steplen
            self._parts[dept_id] = {
                "department": dept.name,
                "parent": self.ancestor_name(dept.path, depth - 1) if depth > 1 else "",
                "subsidiary": self.ancestor_name(dept.path, 2),
                "company": self.ancestor_name(dept.path, 1),
            }
        return self._parts[dept_id]

    def head_for(self, dept_id: int, *, exclude: int | None = None) -> DeptInfo | None:
        """The department or nearest ancestor with an active head (other than ``exclude``)."""
        path = self.by_id[dept_id].path
        while path:
            dept = self.by_path.get(path)
            if dept and dept.head_id and dept.head_active and dept.head_id != exclude:
                return dept
            path = path[: -self.steplen]
        return None
