"""An in-memory directory of employees for matching roster lines (loaded with two queries)."""

from __future__ import annotations

import difflib
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from django.utils.translation import gettext as _

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


# --- Departments named in an employee roster -------------------------------------------------------


def normalize_department(value: str) -> str:
    """NFKC, whitespace collapsed, separators tidied: ``华东区 ``, ``总公司 / 销售部`` match their stored form."""
    value = unicodedata.normalize("NFKC", value)
    parts = [" ".join(p.split()) for p in value.replace("\\", PATH_SEPARATOR).split(PATH_SEPARATOR)]
    return PATH_SEPARATOR.join(p for p in parts if p)


@dataclass(frozen=True)
class Resolution:
    """How a roster's 部门 cell resolved: to an existing full path, to a path that may be created, or not."""

    path: str | None = None  # an existing department's name_path
    new_path: str | None = None  # an unknown full path (creatable only with the importer's consent)
    reason: str | None = None  # why the cell matches no department (ambiguous or unknown)


class DepartmentIndex:
    """Every department by full path, by code and by leaf name (one query).

    A roster cell matches, in this order: the full path (总公司/销售部/华东区); the 部门编码 column when
    the file has one; a unique tail of a path (华东区, or 销售部/华东区). An ambiguous name is an error
    naming the candidates, an unknown one names close matches. Nothing is ever created by matching:
    unknown full paths are offered to the importer to create (``creatable``), see plan_employees.
    """

    CLOSE_MATCHES = 3

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.by_code: dict[str, list[str]] = defaultdict(list)
        self.by_leaf: dict[str, list[str]] = defaultdict(list)
        for path, code in Department.objects.values_list("name_path", "code").iterator(5000):
            path = normalize_department(path)
            self.paths.add(path)
            if code.strip():
                self.by_code[unicodedata.normalize("NFKC", code).strip()].append(path)
            self.by_leaf[path.rsplit(PATH_SEPARATOR, 1)[-1]].append(path)
        self.stored = {normalize_department(p): p for p in Department.objects.values_list("name_path", flat=True)}

    def resolve(self, value: str, code: str = "") -> Resolution:
        name = normalize_department(value)
        if name in self.paths:
            return Resolution(path=self.stored[name])
        code = unicodedata.normalize("NFKC", code or "").strip()
        if code:
            by_code = self.by_code.get(code, [])
            if len(by_code) == 1:
                return Resolution(path=self.stored[by_code[0]])
            if len(by_code) > 1:
                return Resolution(reason=self._ambiguous(_("部门编码 %(c)s") % {"c": code}, by_code))
        leaf = name.rsplit(PATH_SEPARATOR, 1)[-1]
        tails = [p for p in self.by_leaf.get(leaf, []) if p == name or p.endswith(PATH_SEPARATOR + name)]
        if len(tails) == 1:
            return Resolution(path=self.stored[tails[0]])
        if tails:
            return Resolution(reason=self._ambiguous(name, tails))
        reason = self._unknown(name, code)
        if PATH_SEPARATOR in name or not self.paths:
            return Resolution(new_path=name, reason=reason)
        return Resolution(reason=reason)

    def _ambiguous(self, name: str, candidates: list[str]) -> str:
        return _("“%(name)s”对应多个部门:%(list)s;请写完整路径%(code)s") % {
            "name": name,
            "list": "、".join(sorted(candidates)),
            "code": _("或填写部门编码列") if self.by_code else "",
        }

    def _unknown(self, name: str, code: str) -> str:
        names = sorted(self.paths | {p.rsplit(PATH_SEPARATOR, 1)[-1] for p in self.paths})
        close = difflib.get_close_matches(name, names, n=self.CLOSE_MATCHES, cutoff=0.5)
        close_paths: list[str] = []
        for item in close:
            for path in [item] if item in self.paths else self.by_leaf.get(item, []):
                if path not in close_paths:
                    close_paths.append(path)
        text = _("没有部门“%(name)s”") % {"name": name}
        if code:
            text += _("(部门编码 %(c)s 也不存在)") % {"c": code}
        if close_paths:
            text += _(";相近的部门:%(list)s") % {"list": "、".join(close_paths[: self.CLOSE_MATCHES])}
        return text

    def creatable(self, unknown: set[str]) -> set[str]:
        """The departments the unknown full paths need, levels between included, parents first.

        A path may be created only under an existing department: its missing levels hang below a
        department that exists, so each new one's parent exists or is itself in the list. A lone
        name (华东去) and a path under an unknown top level (总公可/销售部) are never new top-level
        departments, except in an empty organisation (the first import), where every level is new.
        """
        levels: set[str] = set()
        for path in unknown:
            parts = path.split(PATH_SEPARATOR)
            if self.paths and (len(parts) < 2 or parts[0] not in self.paths):
                continue
            levels.update(
                prefix
                for prefix in (PATH_SEPARATOR.join(parts[:depth]) for depth in range(1, len(parts) + 1))
                if prefix not in self.paths
            )
        return levels
