"""Import errors that name the row and the column, e.g. "第12行, 部门: 不是有效的部门路径"."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

MAX_ERRORS = 1000  # keep collecting after this many only as a count: a broken file may have 100k bad rows


@dataclass(frozen=True)
class RowError:
    """One problem in an uploaded file. ``row`` is the line as a spreadsheet shows it (header = 1)."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        if not self.row:
            return _("%(column)s: %(reason)s") % {"column": self.column, "reason": self.reason}
        return _("第%(row)s行, %(column)s: %(reason)s") % {
            "row": self.row,
            "column": self.column,
            "reason": self.reason,
        }


class ErrorList:
    """Collects row errors; keeps the first MAX_ERRORS and counts the rest."""

    def __init__(self) -> None:
        self.items: list[RowError] = []
        self.count = 0

    def add(self, row: int, column: str, reason: str) -> None:
        self.count += 1
        if len(self.items) < MAX_ERRORS:
            self.items.append(RowError(row, str(column), str(reason)))

    def __bool__(self) -> bool:
        return self.count > 0

    def messages(self) -> list[str]:
        out = [str(e) for e in self.items]
        if self.count > len(self.items):
            out.append(_("……另有 %(n)s 个错误未列出") % {"n": self.count - len(self.items)})
        return out


class ImportFileError(Exception):
    """The file as a whole cannot be read (empty, undecodable, not CSV/XLSX, unknown header)."""

    def __init__(self, column: str, reason: str, row: int = 0) -> None:
        self.error = RowError(row, str(column), str(reason))
        super().__init__(str(self.error))


class ImportValidationError(Exception):
    """The file has invalid rows: nothing was written. ``messages`` lists every error."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages[:20]))
