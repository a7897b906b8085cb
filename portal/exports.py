"""Spreadsheet safety for everything that leaves the portal as CSV or XLSX.

OWASP CSV injection: a cell that starts with = + - @, a tab, CR or LF may be run as a formula by
Excel or WPS. Such a cell is prefixed with an apostrophe, which spreadsheets show as text.
django-import-export's own setting only strips a leading "=" (see PITFALLS.md), so our resources
and report writers use this function instead.
"""

from __future__ import annotations

from typing import Any

from import_export import resources

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def neutralize(value: Any) -> Any:
    """Return ``value`` safe to place in a spreadsheet cell (non-strings pass through)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class SafeExportResource(resources.ModelResource):
    """A ModelResource whose every exported cell is formula-neutralised."""

    def export_field(self, field, instance, **kwargs):
        return neutralize(super().export_field(field, instance, **kwargs))
