"""Employee roster (花名册): validate a file, plan the upsert against the database, write it.

Speed matters (100,000 rows): departments resolve from one dict, existing employees load in one
query, the diff is computed in Python, and only rows that changed are written, with
``bulk_create(update_conflicts=True)`` (or COPY + INSERT … ON CONFLICT on PostgreSQL, see pgcopy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from groups.choices import EmployeeStatus
from groups.identifiers import clean_employee_no, digits_key
from groups.models import PATH_SEPARATOR, Department, Employee

from .columns import EMPLOYEE_COLUMNS, HeaderError, label, map_header
from .directory import DepartmentIndex, Resolution
from .errors import ErrorList, ImportFileError, ImportValidationError
from .readers import Table, open_table
from .values import check_text, parse_roster_date, parse_status, text

Progress = Callable[[int], None] | None
PROGRESS_EVERY = 2000
PREVIEW_LIMIT = 20
TEXT_FIELDS = ("name", "title", "wechat_id", "wecom_id", "qq_id", "dingtalk_id", "email")
MAX_LENGTH = {f: Employee._meta.get_field(f).max_length for f in (*TEXT_FIELDS, "employee_no")}
MAX_LENGTH["department_code"] = Department._meta.get_field("code").max_length
DEPT_NAME_MAX = Department._meta.get_field("name").max_length
DEPT_PATH_MAX = Department._meta.get_field("name_path").max_length


@dataclass
class EmployeeFile:
    """A validated employee file: one tuple of values (in ``fields`` order) per 工号."""

    encoding: str
    fields: tuple[str, ...]
    rows: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    numbers: dict[str, int] = field(default_factory=dict, repr=False)  # 工号 → its row in the file
    department_codes: dict[str, str] = field(default_factory=dict, repr=False)  # 工号 → its 部门编码 cell


def _row_fields(positions: dict[str, int]) -> tuple[str, ...]:
    keys = [c.key for c in EMPLOYEE_COLUMNS if c.key in positions and c.key != "employee_no"]
    # 部门编码 only helps find the department: read with the row, then set apart (read_employee_file).
    if "departure_date" in positions and "status" not in positions:
        keys.append("status")  # a departure date alone records the departure
    return tuple(keys)


def clean_department(value: Any) -> str:
    raw = check_text(text(value)).replace("\\", PATH_SEPARATOR).replace("／", PATH_SEPARATOR)
    parts = [p.strip() for p in raw.strip(PATH_SEPARATOR).split(PATH_SEPARATOR)]
    if not raw or any(not p for p in parts):
        raise ValueError(_("不能为空,格式如 总公司/销售部/华东区"))
    if any(len(p) > DEPT_NAME_MAX for p in parts):
        raise ValueError(_("部门名称超过 %(n)s 个字符") % {"n": DEPT_NAME_MAX})
    path = PATH_SEPARATOR.join(parts)
    if len(path) > DEPT_PATH_MAX:
        raise ValueError(_("部门路径超过 %(n)s 个字符") % {"n": DEPT_PATH_MAX})
    return path


def _text_cleaner(key: str) -> Callable[[Any], str]:
    limit, required = MAX_LENGTH[key], key == "name"

    def clean(value: Any) -> str:
        value = check_text(value.strip() if type(value) is str else text(value))
        if len(value) > limit:
            raise ValueError(_("超过 %(n)s 个字符") % {"n": limit})
        if required and not value:
            raise ValueError(_("不能为空"))
        if key == "email" and value:
            try:
                validate_email(value)
            except ValidationError:
                raise ValueError(_("不是有效的邮箱地址")) from None
        return value

    return clean


CLEANERS: dict[str, Callable[[Any], Any]] = {
    "department": clean_department,
    "hire_date": parse_roster_date,
    "departure_date": parse_roster_date,
    "status": parse_status,
    **{key: _text_cleaner(key) for key in (*TEXT_FIELDS, "department_code")},
}
# Columns whose values repeat across rows: each distinct cell is parsed once.
CACHED = {"department", "department_code", "hire_date", "departure_date", "status", "title"}


class _RowReader:
    """Validates rows one by one, collecting errors with their row and column.

    Tight on purpose: it runs once per cell of a 100,000-row file.
    """

    def __init__(self, table: Table, positions: dict[str, int], fields: tuple[str, ...]) -> None:
        self.width = len(table.header)
        self.no_index = positions["employee_no"]
        self.plan = [
            (positions.get(key, -1), label(EMPLOYEE_COLUMNS, key), CLEANERS[key], {} if key in CACHED else None)
            for key in fields
        ]
        self.at = {key: fields.index(key) if key in fields else -1 for key in ("hire_date", "departure_date", "status")}
        self.errors = ErrorList()
        self.first_row: dict[str, int] = {}
        self.by_digits: dict[str, str] = {}  # 123 → 00123: numbers that differ only in leading zeros

    def read(self, number: int, cells: list[Any]) -> tuple[str, tuple[Any, ...]] | None:
        errors_before = self.errors.count
        if len(cells) < self.width:
            cells = cells + [None] * (self.width - len(cells))
        elif len(cells) > self.width and any(text(c) for c in cells[self.width :]):
            self.errors.add(number, _("整行"), _("列数(%(n)s)多于表头(%(m)s)") % {"n": len(cells), "m": self.width})
        employee_no = self._employee_no(number, cells[self.no_index])
        values: list[Any] = []
        for index, column, clean, cache in self.plan:
            cell = cells[index] if index >= 0 else None
            if cache is not None and cell in cache:
                values.append(cache[cell])
                continue
            try:
                value = clean(cell)
            except ValueError as exc:
                self.errors.add(number, column, str(exc))
                value = None
            else:
                if cache is not None:
                    cache[cell] = value
            values.append(value)
        if self.errors.count > errors_before or employee_no is None:
            return None
        self._check_dates(number, values)
        return employee_no, tuple(values)

    def _employee_no(self, number: int, value: Any) -> str | None:
        try:
            value = clean_employee_no(value)
        except ValueError as exc:
            self.errors.add(number, _("工号"), str(exc))
            return None
        reason = None
        digits = digits_key(value)
        if value in self.first_row:
            reason = _("工号 %(no)s 重复(与第%(row)s行相同)") % {"no": value, "row": self.first_row[value]}
        elif digits is not None and digits in self.by_digits:
            other = self.by_digits[digits]
            reason = _("工号 %(no)s 与第%(row)s行的 %(other)s 只差前导零(Excel 会去掉数字的前导零)") % {
                "no": value,
                "row": self.first_row[other],
                "other": other,
            }
        if reason:
            self.errors.add(number, _("工号"), reason)
            return None
        self.first_row[value] = number
        if digits is not None:
            self.by_digits[digits] = value
        return value

    def _check_dates(self, number: int, values: list[Any]) -> None:
        hire_at, departure_at, status_at = self.at["hire_date"], self.at["departure_date"], self.at["status"]
        hired = values[hire_at] if hire_at >= 0 else None
        departed = values[departure_at] if departure_at >= 0 else None
        if hired and departed and departed < hired:
            self.errors.add(number, _("离职日期"), _("离职日期 %(d)s 早于入职日期 %(h)s") % {"d": departed, "h": hired})
        if status_at >= 0 and values[status_at] is None:
            values[status_at] = EmployeeStatus.DEPARTED.value if departed else EmployeeStatus.ACTIVE.value
        elif departed and status_at >= 0 and values[status_at] == EmployeeStatus.ACTIVE.value:
            self.errors.add(
                number, _("离职日期"), _("状态为在职,却填写了离职日期 %(d)s(离职请把状态写为离职)") % {"d": departed}
            )


def read_employee_file(path: str | Path, *, progress: Progress = None) -> EmployeeFile:
    """Read and validate a whole employee file. Raises ImportValidationError listing every error."""
    try:
        table = open_table(path)
        positions = map_header(table.header, EMPLOYEE_COLUMNS)
    except ImportFileError as exc:
        raise ImportValidationError([str(exc.error)]) from exc
    except HeaderError as exc:
        raise ImportValidationError(exc.messages) from exc
    fields = _row_fields(positions)
    reader = _RowReader(table, positions, fields)
    result = EmployeeFile(table.encoding, fields)
    try:
        rows, read = result.rows, reader.read
        for count, (number, cells) in enumerate(table.rows(), start=1):
            row = read(number, cells)
            if row is not None:
                rows[row[0]] = row[1]
            if progress and not count % PROGRESS_EVERY:
                progress(count)
    except ImportFileError as exc:
        reader.errors.add(exc.error.row, exc.error.column, exc.error.reason)
    if not reader.errors and not result.rows:
        reader.errors.add(2, _("文件"), _("文件没有数据行"))
    if reader.errors:
        raise ImportValidationError(reader.errors.messages())
    result.numbers = reader.first_row
    if "department_code" in fields:
        _set_codes_apart(result)
    if progress:
        progress(len(result.rows))
    return result


def _set_codes_apart(data: EmployeeFile) -> None:
    at = data.fields.index("department_code")
    data.fields = data.fields[:at] + data.fields[at + 1 :]
    for employee_no, values in data.rows.items():
        data.department_codes[employee_no] = values[at]
        data.rows[employee_no] = values[:at] + values[at + 1 :]


def _db_read_field(key: str) -> str:
    return "department__name_path" if key == "department" else key


@dataclass
class EmployeePlan:
    """What an import would change: 工号 to create, to update, departures and new departments."""

    file: EmployeeFile
    creates: list[str] = field(default_factory=list)
    updates: list[str] = field(default_factory=list)
    departed: list[str] = field(default_factory=list)
    unchanged: int = 0
    new_departments: list[str] = field(default_factory=list)
    existing: dict[str, tuple[Any, ...]] = field(default_factory=dict, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.creates or self.updates or self.new_departments)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": len(self.file.rows),
            "created": len(self.creates),
            "updated": len(self.updates),
            "unchanged": self.unchanged,
            "departed": len(self.departed),
            "departments_created": len(self.new_departments),
            "no_change": not self.changed,
        }


def plan_employees(data: EmployeeFile, *, create_departments: bool = False) -> EmployeePlan:
    """Compare the file with the database (one query for employees, one for departments).

    Each 部门 cell is first matched to an existing department (DepartmentIndex: full path, 部门编码,
    unique leaf name) and replaced by its full path. Unknown full paths that could be created are
    planned as ``new_departments`` only with ``create_departments``; otherwise their rows are errors,
    as are ambiguous and unknown names. Raises ImportValidationError listing them.
    """
    plan = EmployeePlan(data)
    errors = ErrorList()
    if "department" in data.fields:
        plan.new_departments = _resolve_departments(data, errors, create=create_departments)
    read_fields = [_db_read_field(k) for k in data.fields]
    plan.existing = {
        row[0]: row[1:] for row in Employee.objects.values_list("employee_no", *read_fields).iterator(5000)
    }
    status_at = data.fields.index("status") if "status" in data.fields else None
    departed = EmployeeStatus.DEPARTED.value
    for employee_no, values in data.rows.items():
        old = plan.existing.get(employee_no)
        if old is None:
            plan.creates.append(employee_no)
        elif old == values:
            plan.unchanged += 1
            continue
        else:
            plan.updates.append(employee_no)
        if status_at is not None and values[status_at] == departed and old is not None and old[status_at] != departed:
            plan.departed.append(employee_no)
    _check_against_stored(data, plan.existing, errors)
    return plan


def _resolve_departments(data: EmployeeFile, errors: ErrorList, *, create: bool) -> list[str]:
    """Rewrite every row's 部门 to an existing full path; returns the paths to create (parents first)."""
    index = DepartmentIndex()
    at = data.fields.index("department")
    codes = data.department_codes
    resolved: dict[tuple[str, str], Resolution] = {}
    for employee_no, values in data.rows.items():
        key = (values[at], codes.get(employee_no, ""))
        if key not in resolved:
            resolved[key] = index.resolve(*key)
    creatable = index.creatable({r.new_path for r in resolved.values() if r.new_path})
    column = label(EMPLOYEE_COLUMNS, "department")
    for employee_no, values in data.rows.items():
        found = resolved[(values[at], codes.get(employee_no, ""))]
        path = found.path or (found.new_path if found.new_path in creatable and create else None)
        if path is not None:
            if path != values[at]:
                data.rows[employee_no] = (*values[:at], path, *values[at + 1 :])
            continue
        reason = found.reason or ""
        if found.new_path in creatable:
            reason += _(
                ";如需新建,请在预览中勾选“新建以上部门”(接口参数 create_departments,命令行 --create-departments)"
            )
        errors.add(data.numbers.get(employee_no, 0), column, reason)
    if not create:
        return []
    return sorted(creatable, key=lambda p: (p.count(PATH_SEPARATOR), p))


def _check_against_stored(data: EmployeeFile, existing: dict[str, tuple[Any, ...]], errors: ErrorList) -> None:
    """What only the stored rows can tell: a 工号 that differs from a stored one only in leading
    zeros (Excel's doing), and a departure before the stored hire date (or a hire date after the
    stored departure) when the file has only one of the two columns. Raises ImportValidationError
    with these and the errors found before (``errors``)."""
    stored_digits = {key: no for no in existing if (key := digits_key(no)) is not None}
    for employee_no in data.rows:
        if employee_no in existing:
            continue
        other = stored_digits.get(digits_key(employee_no) or "")
        if other is not None:
            errors.add(
                data.numbers.get(employee_no, 0),
                _("工号"),
                _("工号 %(no)s 与已有员工的工号 %(other)s 只差前导零(Excel 会去掉数字的前导零,请把工号列设为文本格式)")
                % {"no": employee_no, "other": other},
            )
    has_hire, has_departure = "hire_date" in data.fields, "departure_date" in data.fields
    if has_hire != has_departure:
        given = data.fields.index("hire_date" if has_hire else "departure_date")
        stored_field = "departure_date" if has_hire else "hire_date"
        stored = dict(
            Employee.objects.filter(**{f"{stored_field}__isnull": False})
            .values_list("employee_no", stored_field)
            .iterator(5000)
        )
        for employee_no, values in data.rows.items():
            day, other = values[given], stored.get(employee_no)
            if day is None or other is None:
                continue
            if has_departure and day < other:
                errors.add(
                    data.numbers.get(employee_no, 0),
                    _("离职日期"),
                    _("离职日期 %(d)s 早于系统中记录的入职日期 %(h)s") % {"d": day, "h": other},
                )
            elif has_hire and day > other:
                errors.add(
                    data.numbers.get(employee_no, 0),
                    _("入职日期"),
                    _("入职日期 %(h)s 晚于系统中记录的离职日期 %(d)s") % {"h": day, "d": other},
                )
    if errors:
        raise ImportValidationError(errors.messages())


def preview_employees(plan: EmployeePlan, limit: int = PREVIEW_LIMIT) -> dict[str, Any]:
    """The first ``limit`` creates, updates (with their changed fields) and departures, as JSON."""
    data, fields = plan.file, plan.file.fields

    def show(employee_no: str) -> dict[str, Any]:
        values = dict(zip(fields, data.rows[employee_no], strict=True))
        return {"employee_no": employee_no, "name": values.get("name", ""), "department": values.get("department", "")}

    def changes(employee_no: str) -> list[list[str]]:
        old, new = plan.existing[employee_no], data.rows[employee_no]
        return [
            [label(EMPLOYEE_COLUMNS, key), _as_text(a), _as_text(b)]
            for key, a, b in zip(fields, old, new, strict=True)
            if a != b
        ]

    return {
        "summary": plan.summary(),
        "creates": [show(no) for no in plan.creates[:limit]],
        "updates": [{**show(no), "changes": changes(no)} for no in plan.updates[:limit]],
        "departures": [show(no) for no in plan.departed[:limit]],
        "new_departments": plan.new_departments[:limit],
        "limit": limit,
    }


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if value in (EmployeeStatus.ACTIVE, EmployeeStatus.DEPARTED):
        return str(EmployeeStatus(value).label)
    return str(value)
