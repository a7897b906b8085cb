"""PostgreSQL: session settings for the long work that runs many large queries; how timestamps are read."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from django.db import connection

_NAME = re.compile(r"[a-z_]+")


@contextmanager
def session_settings(**values: str) -> Iterator[None]:
    """PostgreSQL settings around a block, put back as they were after it (so blocks nest); nothing
    elsewhere. One query to set them all, one to put them back.

    Session-level ``set_config(…, false)`` rather than ``SET LOCAL``: the blocks this wraps commit
    as they go (progress, batches), and a server-side cursor opened outside a transaction is WITH HOLD.
    """
    if connection.vendor != "postgresql" or not values:
        yield
        return
    names = list(values)
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"not a setting name: {name!r}")
    current = ", ".join(["current_setting(%s)"] * len(names))
    change = ", ".join(["set_config(%s, %s, false)"] * len(names))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {current}, {change}", [*names, *(x for n in names for x in (n, values[n]))])
        before = cursor.fetchone()[: len(names)]
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {change}", [x for n, old in zip(names, before, strict=True) for x in (n, old)])


def jit_off():
    """JIT compilation off around a block. PostgreSQL compiles any plan whose estimated cost passes
    ``jit_above_cost``; for the report's long query and for the detectors' batch queries that cost
    tens of milliseconds a query and saved nothing (bench/README.md)."""
    return session_settings(jit="off")


def nested_loops():
    """Around a query whose outer side is a batch of ids: nested loops only (no merge or hash join).
    The planner cannot estimate what such a batch joins to and may walk a whole table to merge it
    (bench/README.md: R01/R03's answer check walked all 510,000 memberships for 900 messages)."""
    return session_settings(enable_mergejoin="off", enable_hashjoin="off")


@lru_cache
def _iso_loader(timezone: datetime.tzinfo | None) -> type:
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class IsoTimestamptzLoader(BaseTzLoader):
        """Django's timestamptz loader, parsing with ``datetime.fromisoformat`` (C) what it can: the
        ISO text PostgreSQL sends (``2026-11-03 10:00:00.5+00``, in the session's zone, which Django
        sets to ``timezone``). Anything else — BC dates, years past 9999, infinity — goes to
        Django's loader, which gives its value or its error as before."""

        def load(self, data):
            try:
                value = datetime.datetime.fromisoformat(bytes(data).decode("ascii"))
            except ValueError:
                return super().load(data)
            return value.replace(tzinfo=self.timezone)

    IsoTimestamptzLoader.timezone = timezone  # Django's cursor keeps a loader of its own zone
    return IsoTimestamptzLoader


def iso_timestamps(sender, connection, **kwargs) -> None:
    """``connection_created``: timestamps read by ``fromisoformat`` rather than psycopg's pure-Python
    parser, which Django's loader subclasses (2.5 µs a value against 0.7 µs: the detection of a
    month reads millions of them)."""
    if connection.vendor != "postgresql":
        return
    connection.connection.adapters.register_loader("timestamptz", _iso_loader(connection.timezone))
