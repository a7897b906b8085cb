"""Group rosters (群成员名单): validate a file, match members to employees, plan the snapshot.

A roster is a snapshot of a group: open memberships missing from it have left (``left_at`` set),
new lines join (new rows: history is kept, a rejoin is a new row), known lines are updated.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from groups.lifecycle_checks import check_snapshot
from groups.models import ChatGroup, Employee, Membership
from portal.staging import copy_staged

from .columns import ROSTER_COLUMNS, HeaderError, map_header
from .directory import Directory
from .errors import ErrorList, ImportFileError, ImportValidationError
from .readers import Table, open_table
from .values import check_text, parse_bool, parse_datetime, text

Progress = Callable[[int], None] | None
PREVIEW_LIMIT = 20
NICK_MAX = Membership._meta.get_field("nickname").max_length
ID_MAX = Membership._meta.get_field("platform_id").max_length


@dataclass
class RosterLine:
    """One member line of the file, resolved to its group and (maybe) an employee."""

    row: int
    group: ChatGroup
    nickname: str
    platform_id: str
    joined_at: dt.datetime | None = None
    is_admin: bool | None = None
    invited_by_id: int | None = None
    employee_id: int | None = None
    matched_by: str | None = None
    nickname_set: bool = True  # False: the platform says no group nickname is set (WeCom sync)

    @property
    def key(self) -> str:
        return Membership.key_for(self.platform_id, self.nickname)


@dataclass
class RosterFile:
    """A validated roster file: its lines grouped by group, plus warnings that do not block it."""

    encoding: str
    fields: frozenset[str]
    lines: list[RosterLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def groups(self) -> dict[int, ChatGroup]:
        return {line.group.pk: line.group for line in self.lines}


class _RosterReader:
    def __init__(self, table: Table, positions: dict[str, int], groups: dict[str, list[ChatGroup]], default):
        self.width, self.positions, self.groups, self.default = len(table.header), positions, groups, default
        self.errors = ErrorList()
        self.seen: dict[tuple[int, str], int] = {}
        self.directory = Directory()
        self.now = timezone.now()

    def cell(self, cells: list[Any], key: str) -> Any:
        index = self.positions.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    def read(self, number: int, cells: list[Any]) -> RosterLine | None:
        before = self.errors.count
        if len(cells) > self.width and any(text(c) for c in cells[self.width :]):
            self.errors.add(number, _("整行"), _("列数(%(n)s)多于表头(%(m)s)") % {"n": len(cells), "m": self.width})
        group = self._group(number, cells)
        nickname, platform_id = text(self.cell(cells, "nickname")), text(self.cell(cells, "platform_id"))
        for column, value in ((_("群昵称"), nickname), (_("平台账号"), platform_id)):
            try:
                check_text(value)
            except ValueError as exc:
                self.errors.add(number, column, str(exc))
        if not nickname:
            self.errors.add(number, _("群昵称"), _("不能为空"))
        elif len(nickname) > NICK_MAX:
            self.errors.add(number, _("群昵称"), _("超过 %(n)s 个字符") % {"n": NICK_MAX})
        if len(platform_id) > ID_MAX:
            self.errors.add(number, _("平台账号"), _("超过 %(n)s 个字符") % {"n": ID_MAX})
        line = RosterLine(number, group, nickname, platform_id) if group else None
        self._optional(number, cells, line)
        if self.errors.count > before or line is None:
            return None
        return self._unique(line)

    def _group(self, number: int, cells: list[Any]) -> ChatGroup | None:
        name = text(self.cell(cells, "group"))
        if not name:
            if self.default is None:
                self.errors.add(number, _("群名称"), _("未指定群(文件没有群名称,也没有选择目标群)"))
            return self.default
        found = self.groups.get(name, [])
        if len(found) != 1:
            reason = _("找不到正常状态的群 %(g)s") if not found else _("群名称 %(g)s 不唯一(多个平台有同名群)")
            self.errors.add(number, _("群名称"), reason % {"g": name})
            return None
        return found[0]

    def _optional(self, number: int, cells: list[Any], line: RosterLine | None) -> None:
        values: dict[str, Any] = {}
        for key, column, parser in (
            ("joined_at", _("入群时间"), parse_datetime),
            ("is_admin", _("群管理员"), parse_bool),
            ("invited_by", _("邀请人"), self._inviter),
        ):
            if key in self.positions:
                try:
                    values[key] = parser(self.cell(cells, key))
                except ValueError as exc:
                    self.errors.add(number, column, str(exc))
        joined = values.get("joined_at")
        if joined and joined > self.now:
            self.errors.add(number, _("入群时间"), _("晚于当前时间"))
        if line is not None:
            line.joined_at, line.is_admin = joined, values.get("is_admin")
            line.invited_by_id = values.get("invited_by")

    def _inviter(self, value: Any) -> int | None:
        value = text(value)
        if not value:
            return None
        pk, problem = self.directory.find_employee(value)
        if problem == "ambiguous":
            raise ValueError(_("姓名 %(v)s 对应多名员工,请填写工号") % {"v": value})
        if problem:
            raise ValueError(_("找不到员工 %(v)s(工号或姓名)") % {"v": value})
        return pk

    def _unique(self, line: RosterLine) -> RosterLine | None:
        first = self.seen.setdefault((line.group.pk, line.key), line.row)
        if first != line.row:
            self.errors.add(line.row, _("群昵称"), _("成员重复(与第%(row)s行相同)") % {"row": first})
            return None
        return line


def _groups_by_name(groups: Iterable[ChatGroup]) -> dict[str, list[ChatGroup]]:
    by_name: dict[str, list[ChatGroup]] = {}
    for group in groups:
        by_name.setdefault(group.name, []).append(group)
    return by_name


def read_roster_file(
    path: str | Path, *, group: ChatGroup | None, groups: Iterable[ChatGroup], progress: Progress = None
) -> RosterFile:
    """Read, validate and match a whole roster file. Raises ImportValidationError listing every error.

    ``groups`` are the groups the acting user may import into (the 群名称 column is resolved there).
    """
    try:
        table = open_table(path)
        positions = map_header(table.header, ROSTER_COLUMNS)
    except ImportFileError as exc:
        raise ImportValidationError([str(exc.error)]) from exc
    except HeaderError as exc:
        raise ImportValidationError(exc.messages) from exc
    reader = _RosterReader(table, positions, _groups_by_name(groups), group)
    result = RosterFile(table.encoding, frozenset(positions))
    try:
        for count, (number, cells) in enumerate(table.rows(), start=1):
            line = reader.read(number, cells)
            if line is not None:
                result.lines.append(line)
            if progress and count % 500 == 0:
                progress(count)
    except ImportFileError as exc:
        reader.errors.add(exc.error.row, exc.error.column, exc.error.reason)
    if not reader.errors and not result.lines:
        reader.errors.add(2, _("文件"), _("文件没有数据行"))
    if reader.errors:
        raise ImportValidationError(reader.errors.messages())
    _match_all(result, reader.directory)
    return result


def match_roster(data: RosterFile, directory: Directory) -> None:
    """Match lines built elsewhere (an API sync) as a file's lines are matched."""
    _match_all(data, directory)


def _match_all(data: RosterFile, directory: Directory) -> None:
    """Match every line; one employee holds one line per group (the best match keeps it)."""
    for line in data.lines:
        line.employee_id, line.matched_by = directory.match(line.group, line.nickname, line.platform_id)
    rank = {"id": 0, "nickname": 1, "name": 2}
    holder: dict[tuple[int, int], RosterLine] = {}
    for line in sorted((ln for ln in data.lines if ln.employee_id), key=lambda ln: (rank[ln.matched_by], ln.row)):
        kept = holder.setdefault((line.group.pk, line.employee_id), line)
        if kept is not line:
            data.warnings.append(
                _("第%(row)s行, 群昵称: 与第%(other)s行匹配到同一员工,按未匹配人员处理")
                % {"row": line.row, "other": kept.row}
            )
            line.employee_id, line.matched_by = None, None


_EXISTING = (
    "id", "group_id", "member_key", "nickname", "platform_id", "employee_id", "is_admin", "invited_by_id",
    "nickname_set",
)  # fmt: skip


@dataclass
class RosterPlan:
    """The snapshot diff: lines that join, memberships to update, memberships that left."""

    file: RosterFile
    creates: list[RosterLine] = field(default_factory=list)
    updates: list[tuple[RosterLine, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    leaving: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0

    def summary(self) -> dict[str, Any]:
        matched = Counter(line.matched_by for line in self.file.lines if line.employee_id and line.matched_by)
        return {
            "rows": len(self.file.lines),
            "groups": len(self.file.groups),
            "joined": len(self.creates),
            "left": len(self.leaving),
            "updated": len(self.updates),
            "unchanged": self.unchanged,
            "outsiders": sum(1 for line in self.file.lines if not line.employee_id),
            "matched_by": {how: matched.get(how, 0) for how in ("id", "nickname", "name")},
            "no_change": not (self.creates or self.leaving or self.updates),
        }


def _changes(line: RosterLine, old: dict[str, Any]) -> dict[str, Any]:
    if line.employee_id is None and old["employee_id"]:
        # A match HR made by hand (or an earlier id match) survives a snapshot that cannot match.
        line.employee_id, line.matched_by = old["employee_id"], "kept"
    new = {
        "nickname": line.nickname,
        "platform_id": line.platform_id,
        "employee_id": line.employee_id,
        "nickname_set": line.nickname_set,
    }
    if line.is_admin is not None:
        new["is_admin"] = line.is_admin
    if line.invited_by_id is not None:
        new["invited_by_id"] = line.invited_by_id
    if line.joined_at is not None:
        new["joined_at"] = line.joined_at
    return {k: v for k, v in new.items() if old[k] != v}


def plan_roster(data: RosterFile) -> RosterPlan:
    """Compare the snapshot with the open memberships of the groups it names (one query)."""
    plan = RosterPlan(data)
    rows = Membership.objects.filter(group_id__in=list(data.groups), left_at__isnull=True).values(
        *_EXISTING, "joined_at"
    )
    open_rows = {(row["group_id"], row["member_key"]): row for row in rows}
    for line in data.lines:
        old = open_rows.pop((line.group.pk, line.key), None)
        if old is None:
            plan.creates.append(line)
            continue
        changes = _changes(line, old)
        if changes:
            plan.updates.append((line, old, changes))
        else:
            plan.unchanged += 1
    groups = data.groups
    plan.leaving = [{**row, "group_name": groups[row["group_id"]].name} for row in open_rows.values()]
    return plan


MATCHED_BY = {
    "id": _lazy("平台账号"),
    "nickname": _lazy("群昵称规范"),
    "name": _lazy("姓名"),
    "kept": _lazy("保留原匹配"),
}


def _employee_names(plan: RosterPlan, limit: int) -> dict[int, str]:
    ids = {line.employee_id for line in plan.creates[:limit]}
    for _line, old, changes in plan.updates[:limit]:
        ids.update(v for k, v in (*old.items(), *changes.items()) if k in ("employee_id", "invited_by_id"))
    ids.discard(None)
    return {
        pk: f"{name}({no})"
        for pk, name, no in Employee.objects.filter(pk__in=ids).values_list("pk", "name", "employee_no")
    }


def preview_roster(plan: RosterPlan, limit: int = PREVIEW_LIMIT) -> dict[str, Any]:
    """The first ``limit`` joins, updates and departures from the groups, as JSON."""
    names = _employee_names(plan, limit)

    def show(line: RosterLine) -> dict[str, Any]:
        return {
            "row": line.row,
            "group": line.group.name,
            "nickname": line.nickname,
            "platform_id": line.platform_id,
            "employee": names.get(line.employee_id, ""),
            "matched_by": str(MATCHED_BY.get(line.matched_by, "")),
        }

    def shown(key: str, value: Any) -> str:
        if key in ("employee_id", "invited_by_id"):
            return names.get(value, "")
        if isinstance(value, bool):
            return str(_lazy("是") if value else _lazy("否"))
        return "" if value is None else str(value)

    def changes(old: dict[str, Any], new: dict[str, Any]) -> list[list[str]]:
        field_name = {"employee_id": "employee", "invited_by_id": "invited_by"}
        return [
            [str(Membership._meta.get_field(field_name.get(k, k)).verbose_name), shown(k, old.get(k)), shown(k, v)]
            for k, v in new.items()
        ]

    return {
        "summary": plan.summary(),
        "creates": [show(line) for line in plan.creates[:limit]],
        "updates": [{**show(line), "changes": changes(old, new)} for line, old, new in plan.updates[:limit]],
        "departures": [
            {"group": row["group_name"], "nickname": row["nickname"], "platform_id": row["platform_id"]}
            for row in plan.leaving[:limit]
        ],
        "warnings": plan.file.warnings[:limit],
        "limit": limit,
    }


_UPDATED = ("nickname", "platform_id", "employee_id", "nickname_set", "is_admin", "invited_by_id", "joined_at")
_CREATED = (
    "group_id", "nickname", "platform_id", "member_key", "employee_id", "joined_at", "is_admin", "invited_by_id",
    "nickname_set", "created_at", "updated_at",
)  # fmt: skip
BATCH = 1000


def write_roster(plan: RosterPlan) -> None:
    """Close the memberships that left, update the changed ones, create the new ones (in that order,
    so a person whose key changed never holds two open rows of one group).

    A set of statements whatever the snapshot's size, never one per member: on PostgreSQL the
    updates are COPYed into a temporary table read by one ``UPDATE … FROM`` and the new rows are
    COPYed into the table (its constraints hold as for an INSERT); elsewhere ``bulk_update`` and
    ``bulk_create`` in batches."""
    now = timezone.now()
    Membership.objects.filter(pk__in=[row["id"] for row in plan.leaving]).update(left_at=now, updated_at=now)
    updates = [(old["id"], *(changes.get(k, old[k]) for k in _UPDATED)) for _line, old, changes in plan.updates]
    creates = [
        (
            line.group.pk, line.nickname, line.platform_id, line.key, line.employee_id, line.joined_at or now,
            bool(line.is_admin), line.invited_by_id, line.nickname_set, now, now,
        )
        for line in plan.creates
    ]  # fmt: skip
    if connection.vendor == "postgresql":
        _copy_write(updates, creates, now)
    else:
        _bulk_write(updates, creates, now)
    groups = {line.group.pk for line in plan.creates}
    groups |= {row["group_id"] for row in plan.leaving} | {old["group_id"] for _line, old, _c in plan.updates}
    ChatGroup.mark_changed(groups)  # for the incremental reconciliation (groups/reconcile.py)
    check_snapshot(list(plan.file.groups), now)  # removals reported before this snapshot: still there?


def _copy_write(updates: list[tuple], creates: list[tuple], now: dt.datetime) -> None:
    table = Membership._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
        if updates:
            columns = ("id", *_UPDATED)
            with copy_staged(cursor, "qungui_membership_stage", like=table, columns=columns, rows=updates) as stage:
                sets = ", ".join(f"{c} = s.{c}" for c in _UPDATED)
                cursor.execute(
                    f"UPDATE {table} AS m SET {sets}, updated_at = %s FROM {stage} AS s WHERE m.id = s.id",  # noqa: S608
                    [now],
                )
        if creates:
            with cursor.cursor.copy(f"COPY {table} ({', '.join(_CREATED)}) FROM STDIN") as copy:
                for row in creates:
                    copy.write_row(row)


def _bulk_write(updates: list[tuple], creates: list[tuple], now: dt.datetime) -> None:
    Membership.objects.bulk_update(
        [Membership(pk=row[0], updated_at=now, **dict(zip(_UPDATED, row[1:], strict=True))) for row in updates],
        [*_UPDATED, "updated_at"],
        batch_size=BATCH // 2,
    )
    Membership.objects.bulk_create(
        [Membership(**dict(zip(_CREATED, row, strict=True))) for row in creates],
        batch_size=BATCH,
    )
