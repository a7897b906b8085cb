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
