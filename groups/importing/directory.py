"""An in-memory directory of employees for matching roster lines (loaded with two queries)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from groups.choices import EmployeeStatus
from groups.identifiers import normalize_employee_no
from groups.models import PATH_SEPARATOR, ChatGroup, Department, Employee
from groups.nicknames import normalize, parse

PLATFORM_FIELDS = tuple(Employee.PLATFORM_ID_FIELDS.values())


@dataclass(frozen=True)
class Person:
    """The few fields of an employee that matching needs."""

    id: int
    employee_no: str
    name: str
    active: bool
    title: str
    dept_path: tuple[str, ...]  # 总公司, 销售部, 华东区

    def placeholder(self, key: str) -> str | None:
        path = self.dept_path
        return {
            "department": path[-1] if path else None,
            "parent": path[-2] if len(path) > 1 else None,
            "subsidiary": path[1] if len(path) > 1 else None,
            "company": path[0] if path else None,
            "title": self.title,
            "employee_no": self.employee_no,
        }.get(key)


class Directory:
    """Employees indexed by platform id, by name and by 工号."""

    def __init__(self) -> None:
        depts = dict(Department.objects.values_list("id", "name_path"))
        self.by_platform: dict[str, dict[str, int | None]] = {f: {} for f in PLATFORM_FIELDS}
        self.by_name: dict[str, list[Person]] = defaultdict(list)
        self.by_no: dict[str, int] = {}
        rows = Employee.objects.values_list(
            "id", "employee_no", "name", "status", "title", "department_id", *PLATFORM_FIELDS
        ).iterator(5000)
        for pk, no, name, status, title, dept_id, *ids in rows:
            person = Person(
                pk, no, name, status == EmployeeStatus.ACTIVE, title, tuple(depts[dept_id].split(PATH_SEPARATOR))
            )
            self.by_name[name].append(person)
            self.by_no[no] = pk
            for fname, value in zip(PLATFORM_FIELDS, ids, strict=True):
                if value:
                    index = self.by_platform[fname]
                    index[value] = None if value in index else pk  # an id two people share matches no one

    def match(self, group: ChatGroup, nickname: str, platform_id: str) -> tuple[int | None, str | None]:
        """(employee id, how): by the platform id, then the nickname convention, then a unique name."""
        if platform_id:
            pk = self.by_platform[Employee.PLATFORM_ID_FIELDS[group.platform]].get(platform_id)
            if pk:
                return pk, "id"
        parts = parse(group.nickname_convention, nickname)
        if parts is not None:
            person = self._by_convention(parts.values)
            if person is not None:
                return person.id, "nickname"
        name = parts.values["name"] if parts is not None else normalize(nickname)
        people = self.by_name.get(name, [])
        if len(people) == 1:
            return people[0].id, "name"
        return None, None

    def _by_convention(self, values: dict[str, str]) -> Person | None:
        people = self.by_name.get(values["name"], [])
        others = {k: v for k, v in values.items() if k != "name"}
        if not people or not others:
            return None
        exact = [p for p in people if all(p.placeholder(k) == v for k, v in others.items())]
        # 销售部-张三 also finds the 张三 of 销售部/华东区: a department placeholder may name an ancestor.
        loose = exact or [
            p for p in people if all(p.placeholder(k) == v or v in p.dept_path for k, v in others.items())
        ]
        return _unique(loose)

    def find_employee(self, value: str) -> tuple[int | None, str | None]:
        """An employee by 工号 or by unique name; (None, reason) when not found or ambiguous."""
        number = normalize_employee_no(value)
        if number in self.by_no:
            return self.by_no[number], None
        people = self.by_name.get(value, [])
        if len(people) == 1:
            return people[0].id, None
        return None, "ambiguous" if people else "missing"


def _unique(people: list[Person]) -> Person | None:
    if len(people) == 1:
        return people[0]
    active = [p for p in people if p.active]
    return active[0] if len(active) == 1 else None
