"""Spreadsheet safety for everything that leaves the portal as CSV or XLSX.

OWASP CSV injection: a cell that starts with = + - @ | (or their full-width forms), a tab, CR or
LF may be run as a formula (or a DDE command) by Excel or WPS, and so may one where such a
character follows leading spaces (" =1+1", "\u3000=1+1": spreadsheets skip them). Such a cell is
prefixed with an apostrophe, which spreadsheets show as text. The PostgreSQL CSV export does the
same in SQL (violations.reports.sql.labelled_query) with these same constants.
django-import-export's own setting only strips a leading "=" (see PITFALLS.md), so our resources
and report writers use this function instead.
"""

from __future__ import annotations

from typing import Any

from import_export import resources

FORMULA_PREFIXES = ("=", "+", "-", "@", "|", "\t", "\r", "\n", "＝", "＋", "－", "＠", "｜")
# Skipped before the first character is looked at: ASCII and Unicode spaces, the ideographic space
# U+3000, zero-width characters and the BOM. A fixed list, so that SQL's ltrim() strips the same.
LEADING_SPACE = (
    " \t\r\n\x0b\x0c\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u200b\u200c\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff"
)


def neutralize(value: Any) -> Any:
    """Return ``value`` safe to place in a spreadsheet cell (non-strings pass through)."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_PREFIXES) or value.lstrip(LEADING_SPACE).startswith(FORMULA_PREFIXES)
    ):
        return "'" + value
    return value


class SafeExportResource(resources.ModelResource):
    """A ModelResource whose every exported cell is formula-neutralised."""

    def export_field(self, field, instance, **kwargs):
        return neutralize(super().export_field(field, instance, **kwargs))
