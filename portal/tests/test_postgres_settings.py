"""portal.postgres: planner settings around a block, put back as they were (PostgreSQL); a no-op
elsewhere."""

import pytest
from django.db import connection

from portal.postgres import jit_off, nested_loops, session_settings


def _setting(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting(%s)", [name])
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_settings_hold_inside_the_block_and_are_put_back_after_it_nested_too():
    if connection.vendor != "postgresql":
        with jit_off(), nested_loops():  # nothing to set: no query at all
            assert connection.vendor == "sqlite"
        return
    jit, merge = _setting("jit"), _setting("enable_mergejoin")
    with jit_off():
        assert _setting("jit") == "off"
        with nested_loops():
            assert (_setting("enable_mergejoin"), _setting("enable_hashjoin")) == ("off", "off")
            assert _setting("jit") == "off"
        assert _setting("enable_mergejoin") == merge
        assert _setting("jit") == "off"  # the outer block's value, not the server's default
    assert _setting("jit") == jit


@pytest.mark.django_db
def test_settings_are_put_back_when_the_block_raises():
    if connection.vendor != "postgresql":
        return
    before = _setting("enable_hashjoin")
    with pytest.raises(RuntimeError), nested_loops():
        raise RuntimeError("boom")
    assert _setting("enable_hashjoin") == before


def test_a_name_that_is_not_a_setting_name_is_refused_before_any_sql():
    if connection.vendor != "postgresql":
        return
    with pytest.raises(ValueError, match="not a setting name"), session_settings(**{"jit; DROP TABLE x": "off"}):
        pass


@pytest.mark.postgres
@pytest.mark.django_db
def test_timestamps_are_read_by_fromisoformat_as_django_reads_them():
    """Every timestamptz PostgreSQL sends comes back as Django's own loader gives it (or with its
    error), through the faster loader the portal registers on each connection."""
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from portal.postgres import _iso_loader

    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader is _iso_loader(connection.timezone)
    with connection.cursor() as cursor:
        assert cursor.cursor.adapters.get_loader(1184, 0) is loader  # Django's cursor keeps it
        values = [
            "2026-11-03 10:00:00+08", "2026-11-03 10:00:00.000001+00", "2026-12-31 23:59:59.999999-05:30",
            "0001-01-01 00:00:00+00", "9999-12-31 23:59:59+00", "2024-02-29 12:00:00.5+00",
        ]  # fmt: skip
        cursor.execute("SELECT v::timestamptz::text, v::timestamptz FROM unnest(%s::text[]) AS v", [values])
        rows = cursor.fetchall()

    class DjangosOwn(BaseTzLoader):
        timezone = connection.timezone

    django_loader = DjangosOwn(1184, connection.connection)
    assert [value for _text, value in rows] == [django_loader.load(text.encode()) for text, _value in rows]
    assert all(value.tzinfo is connection.timezone for _text, value in rows)
    for text in ("infinity", "-infinity", "0044-03-15 00:00:00+00 BC"):
        ours = loader(1184, connection.connection)
        try:
            expected = django_loader.load(text.encode())
        except Exception as exc:  # the same error, whatever it is
            with pytest.raises(type(exc)):
                ours.load(text.encode())
        else:
            assert ours.load(text.encode()) == expected
