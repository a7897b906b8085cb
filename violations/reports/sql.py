"""The detail rows as one SQL query (the scoped queryset compiled by the ORM, sanctions summed once per
violation), read in chunks through a server-side cursor; on PostgreSQL the CSV itself comes from COPY."""

from __future__ import annotations

import codecs
import contextlib
from collections.abc import Iterator

from django.db import connection
from django.db.models import DecimalField, F
from django.db.models.functions import TruncDate
from django.utils import timezone, translation

from portal.exports import FORMULA_PREFIXES, LEADING_SPACE
from portal.postgres import jit_off

from ..models import Sanction
from .rows import SANCTION_ORDER, RowFormatter

CHUNK_SIZE = 5000


MONEY = DecimalField(max_digits=12, decimal_places=2)


def _title_field() -> str:
    return "rule__title_en" if (translation.get_language() or "").startswith("en") else "rule__title_zh"


DETAIL_FIELDS = ("number", "name", "dept", "grp", "platform", "code", "title")


def _typed_columns(as_text: bool) -> tuple[str, str]:
    if connection.vendor == "sqlite":
        return "d.day", ("printf('%%.2f', COALESCE(s.fine, 0))" if as_text else "COALESCE(s.fine, 0)")
    if as_text:
        return "to_char(d.day, 'YYYY-MM-DD')", "CAST(COALESCE(s.fine, 0.00) AS text)"
    return "d.day", "COALESCE(s.fine, 0.00)"


def _parts(qs) -> tuple[str, tuple, str, tuple]:
    """The violation columns (ORM-compiled, scoped as given) and the ids of the same violations."""
    tz = timezone.get_current_timezone()
    base = qs.prefetch_related(None).order_by()
    rows = base.values(
        vid=F("pk"),
        occurred=F("occurred_at"),
        day=TruncDate("occurred_at", tzinfo=tz),
        number=F("employee__employee_no"),
        name=F("employee__name"),
        dept=F("employee__department__name_path"),
        grp=F("group__name"),
        platform=F("group__platform"),
        code=F("rule__code"),
        title=F(_title_field()),
        vstatus=F("status"),
        astatus=F("appeal__status"),
    )
    return (*rows.query.sql_with_params(), *base.values("pk").query.sql_with_params())


SANCTIONS_JOIN = (
    "LEFT JOIN (SELECT violation_id, {kinds} AS kinds, SUM(amount) AS fine, SUM(points) AS points FROM {table} "
    "WHERE withdrawn_at IS NULL AND violation_id IN ({ids}) GROUP BY violation_id) s ON s.violation_id = d.vid "
    "ORDER BY d.occurred, d.vid"
)


def detail_query(qs, *, as_text: bool = False) -> tuple[str, tuple]:
    """SQL and params of the detail rows of ``qs`` (one per violation, in ``columns()`` order; codes raw).

    The violation columns come from the ORM (the scoped, filtered queryset compiled as is). The
    sanctions are summed once per violation by a grouped derived table joined to it, restricted to
    the same violations: on PostgreSQL much faster than three correlated subqueries, which the ORM
    would produce (one index probe per row and column; bench/README.md).
    ``as_text``: the date and the fine come as text (for CSV: saves building date and Decimal
    objects only to turn them back into text).
    """
    rows_sql, rows_params, ids_sql, ids_params = _parts(qs)
    concat = "GROUP_CONCAT(kind, ',')" if connection.vendor == "sqlite" else "STRING_AGG(kind, ',')"
    table = connection.ops.quote_name(Sanction._meta.db_table)
    day, fine = _typed_columns(as_text)
    # Composed only of ORM-compiled SQL and constants; every value travels as a parameter.
    sql = (
        f"SELECT {day}, {', '.join(f'd.{name}' for name in DETAIL_FIELDS)}, s.kinds, {fine}, "  # noqa: S608
        f"COALESCE(s.points, 0), d.vstatus, d.astatus FROM ({rows_sql}) d "
        + SANCTIONS_JOIN.format(kinds=concat, table=table, ids=ids_sql)
    )
    return sql, (*rows_params, *ids_params)


TEXT_CELLS = ("d.number", "d.name", "d.dept", "d.grp", "d.code", "d.title")


def _case(column: str, mapping: dict[str, str], default: str = "''") -> tuple[str, list]:
    whens = " ".join("WHEN %s THEN %s" for _ in mapping)
    return f"CASE {column} {whens} ELSE {default} END", [item for pair in mapping.items() for item in pair]


def labelled_query(qs) -> tuple[str, tuple]:
    """PostgreSQL: the CSV row as display text — labels resolved and text cells formula-neutralised
    by the database.

    Neutralising follows ``portal.exports.neutralize`` exactly: a text cell starting with one of
    ``FORMULA_PREFIXES``, or doing so once ``LEADING_SPACE`` is stripped (both passed as
    parameters), gets a leading apostrophe.
    """
    rows_sql, rows_params, ids_sql, ids_params = _parts(qs)
    labels = RowFormatter()
    prefixes = [list(FORMULA_PREFIXES), LEADING_SPACE, list(FORMULA_PREFIXES)]

    def safe(cell: str) -> str:
        return (
            f"CASE WHEN LEFT({cell}, 1) = ANY(%s::text[]) OR LEFT(LTRIM({cell}, %s), 1) = ANY(%s::text[]) "
            f"THEN '''' || {cell} ELSE {cell} END"
        )

    number, name, dept, grp, code, title = (safe(c if c != "d.grp" else "COALESCE(d.grp, '')") for c in TEXT_CELLS)
    platform, platform_params = _case("d.platform", labels.platforms)
    status, status_params = _case("d.vstatus", labels.statuses, "d.vstatus")
    appeal, appeal_params = _case("d.astatus", labels.appeals)
    kind, kind_params = _case("kind", labels.kind_labels, "kind")
    order, order_params = _case("kind", {k: str(i) for k, i in SANCTION_ORDER.items()}, "99")
    table = connection.ops.quote_name(Sanction._meta.db_table)
    kinds = f"STRING_AGG({kind}, '、' ORDER BY ({order})::int)"
    sql = (
        f"SELECT to_char(d.day, 'YYYY-MM-DD'), {number}, {name}, {dept}, {grp}, "  # noqa: S608
        f"{platform}, {code}, {title}, COALESCE(s.kinds, ''), CAST(COALESCE(s.fine, 0.00) AS text), "
        f"COALESCE(s.points, 0), {status}, {appeal} FROM ({rows_sql}) d "
        + SANCTIONS_JOIN.format(kinds=kinds, table=table, ids=ids_sql)
    )
    params = (
        *(prefixes * 4),  # number, name, dept, grp ...
        *platform_params,
        *(prefixes * 2),  # ... code, title
        *status_params,
        *appeal_params,
        *rows_params,
        *kind_params,
        *order_params,
        *ids_params,
    )
    return sql, params


def copy_query(qs) -> tuple[str, tuple]:
    """PostgreSQL: ``COPY (labelled_query) TO STDOUT`` as CSV. No value is NULL (all COALESCEd), and
    ``NULL '\\N'`` lets empty cells be written empty rather than quoted ("")."""
    sql, params = labelled_query(qs)
    return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, NULL '\\N')", params


def _copy_chunks(qs, chunk_size: int) -> Iterator[list[bytes]]:
    """Lists of up to ``chunk_size`` CSV lines (UTF-8 bytes) streamed by PostgreSQL's COPY.

    The server sends one CopyData message per row, so counting messages counts rows. The statement
    goes into Django's query log like any other (CaptureQueriesContext sees it).
    """
    sql, params = copy_query(qs)
    with jit_off(), connection.cursor() as cursor:
        logged = cursor.debug_sql(sql, params) if hasattr(cursor, "debug_sql") else contextlib.nullcontext()
        # COPY takes no bind parameters: merge them client-side (escaped by psycopg), whatever
        # binding mode the connection uses.
        from psycopg import ClientCursor

        statement = ClientCursor(cursor.cursor.connection).mogrify(sql, params)
        with logged, cursor.cursor.copy(statement) as copy:
            lines: list[bytes] = []
            for data in copy:
                lines.append(bytes(data))
                if len(lines) >= chunk_size:
                    yield lines
                    lines = []
            if lines:
                yield lines


def csv_copy_bytes(qs, codec: str, chunk_size: int) -> Iterator[tuple[int, bytes]]:
    """(rows, bytes) per chunk of the PostgreSQL CSV body, transcoded when GBK is asked for."""
    decoder = codecs.getincrementaldecoder("utf-8")() if codec != "utf-8" else None
    for lines in _copy_chunks(qs, chunk_size):
        body = b"".join(lines)
        if decoder is not None:
            body = decoder.decode(body).encode(codec, "replace")
        yield len(lines), body


def iter_raw_rows(qs, chunk_size: int = CHUNK_SIZE, *, as_text: bool = False) -> Iterator[list[tuple]]:
    """Raw detail rows in lists of ``chunk_size``, through a server-side cursor on PostgreSQL."""
    return fetch_chunks(*detail_query(qs, as_text=as_text), chunk_size)


def fetch_chunks(sql: str, params: tuple, chunk_size: int = CHUNK_SIZE) -> Iterator[list[tuple]]:
    with jit_off(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(chunk_size):
            yield batch


def iter_chunks(qs, chunk_size: int = CHUNK_SIZE, *, as_text: bool = False) -> Iterator[list[tuple]]:
    """Formatted detail rows in lists of ``chunk_size``, read through a server-side cursor."""
    formatter = RowFormatter(as_text=as_text)
    for batch in iter_raw_rows(qs, chunk_size, as_text=as_text):
        yield formatter.format_batch(batch)
