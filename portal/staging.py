"""PostgreSQL bulk writes: rows COPYed into a temporary table, then one set-based statement reads it.

Used by the roster import (employees upsert), the deductions job (upsert) and reconciliation (new
findings): COPY is the fastest way to hand many rows to the server, and the statement that follows
keeps the target table's constraints and ON CONFLICT rules in force.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager


@contextmanager
def copy_staged(cursor, stage: str, *, like: str, columns: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """A temporary table ``stage`` with ``columns`` typed as in table ``like``, filled by COPY with
    ``rows`` (values in ``columns`` order); dropped when the block ends, or at commit or rollback if
    the block fails. ``cursor`` is a Django cursor on PostgreSQL; names are SQL, already quoted.
    """
    names = ", ".join(columns)
    cursor.execute(f"DROP TABLE IF EXISTS {stage}")
    cursor.execute(f"CREATE TEMPORARY TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {like} WITH NO DATA")  # noqa: S608
    with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    yield stage
    cursor.execute(f"DROP TABLE {stage}")
