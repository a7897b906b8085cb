"""The monthly violation report: which rows, one row per violation, CSV and XLSX writers, totals.

``params`` (period, department, the scoped queryset), ``sql`` (the detail query, COPY), ``rows``
(columns and formatting), ``csv``, ``xlsx``, ``totals`` (the summary sheets), ``jobs`` (background
exports), ``forms`` and ``views`` (the export page).

Reads only. Callers (views, admin actions, the command, the export task) pass a queryset that
already starts from ``Violation.objects.visible_to(user)``; ``report_queryset`` narrows it to the
period and the department subtree.

Large periods never sit in memory: the detail is one SQL query (the scoped queryset compiled by the
ORM, standing sanctions summed once per violation by a joined derived table, the local date computed
by the database) read through a server-side cursor on PostgreSQL, and both writers consume it in
chunks of ``CHUNK_SIZE`` rows. Sanctions shown and summed are those not withdrawn (a dismissed or
overturned violation has none left); those under a pending appeal still show, with "待裁决".

Every text cell goes through ``portal.exports.neutralize`` (formula injection); XLSX cells are
written with ``write_string``/``write_number``/``write_datetime``, never as formulas.

CSV encodings: UTF-8 with a BOM (default: Excel in China opens it correctly) or GBK for old Excel
versions; characters GBK cannot encode (emoji, rare characters, €) become "?".
"""

from __future__ import annotations

from .csv import ENCODINGS, csv_chunks, write_csv
from .params import ReportError, ReportParams, parse_month, report_queryset, resolve_department
from .rows import columns
from .sql import CHUNK_SIZE, detail_query
from .xlsx import write_xlsx

__all__ = [
    "CHUNK_SIZE",
    "ENCODINGS",
    "ReportError",
    "ReportParams",
    "columns",
    "csv_chunks",
    "detail_query",
    "parse_month",
    "report_queryset",
    "resolve_department",
    "write_csv",
    "write_xlsx",
]
