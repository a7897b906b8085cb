"""Trigram (pg_trgm) indexes for ``icontains`` search, created by migrations on PostgreSQL only.

Django's ``icontains`` on PostgreSQL is ``UPPER(col::text) LIKE UPPER('%term%')``; a GIN index on
``UPPER(col) gin_trgm_ops`` answers exactly that expression (admin search, DRF ``SearchFilter``).
pg_trgm needs three characters of a search term to use the index; shorter terms still work
(a scan). On SQLite the operations do nothing and ``icontains`` scans as before. The indexes are
not in the models' ``Meta.indexes`` (SQLite could not create them); ``migrations.RunPython``
with these functions adds and removes them::

    operations = [TrigramExtension(), trigram_indexes("groups", {"employee": ["name"]})]
"""

from __future__ import annotations

import re

from django.db import migrations
from django.db.models import CharField, Lookup, TextField


def index_name(model: str, field: str) -> str:
    return f"{model}_{field}_trgm"[:30]


def _indexes(app_label: str, fields: dict[str, list[str]]):
    from django.contrib.postgres.indexes import GinIndex, OpClass
    from django.db.models.functions import Upper

    for model, columns in fields.items():
        for column in columns:
            yield model, GinIndex(OpClass(Upper(column), name="gin_trgm_ops"), name=index_name(model, column))


def trigram_indexes(app_label: str, fields: dict[str, list[str]]) -> migrations.RunPython:
    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for model, index in _indexes(app_label, fields):
            schema_editor.add_index(apps.get_model(app_label, model), index)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for model, index in _indexes(app_label, fields):
            schema_editor.remove_index(apps.get_model(app_label, model), index)

    return migrations.RunPython(forwards, backwards, elidable=False)


# --- two-character terms ---------------------------------------------------------------------------
# pg_trgm extracts no trigram from '%王芳%' (two characters between wildcards), and two-character
# Chinese names are the commonest search of all. For the biggest columns a GIN index on the
# upper-cased value's character pairs answers those: ``qungui_bigrams(UPPER(col)) @> ARRAY['王芳']``
# (then the LIKE rechecks). ``portal.admin_lists.union_search`` adds that condition for a term of
# exactly two characters on a column listed here.

BIGRAM_COLUMNS = {
    ("groups_employee", "name"),
    ("groups_employee", "employee_no"),  # the employee columns every search includes: 100,000 rows
    ("groups_employee", "wechat_id"),
    ("groups_employee", "wecom_id"),
    ("groups_membership", "nickname"),
    ("groups_membership", "platform_id"),
    ("violations_violation", "description"),
}
# Columns whose pair index answers every term of two or more characters (all its pairs, then the
# LIKE rechecks), with no trigram index beside it: the violations' description, written for every
# suspicion a detection run stores (250,000 a month at 50,000 people), where the trigram index cost
# a quarter of the insert (violations 0020, bench/README.md).
BIGRAM_ONLY_COLUMNS = {
    ("violations_violation", "description"),
}
# Columns whose pair index is built over the upper-cased value without its separators — ASCII
# digits, spaces and punctuation, CJK and full-width punctuation and digits, general punctuation —
# and asked with the term's pairs made the same way (``separated``): a term inside a value is inside
# it so too, so the index still finds a superset for the LIKE. A suspicion's description is half
# times and numbers ("领导 李浩 于 2026-11-20 12:09:57 的指令,何建桐 80 分钟后才回复(时限 30 分钟…"):
# without them each has half the pairs, and the index half the cost of writing it (40,000
# suspicions: 1.29 s -> 0.65 s). A term with fewer than two other characters ("30", "12:09") has no
# such pairs: it is searched by the LIKE alone.
# The inside of a bracket expression, in escapes that PostgreSQL's regexes and Python's read alike.
SEPARATORS = (
    r"\x01-@\[-`{-\x7f"  # ASCII but letters: digits, space, punctuation, controls
    r"\u2000-\u206f"  # general punctuation: – — ‘ ’ “ ” … and the spaces
    r"\u3000-\u303f"  # CJK symbols and punctuation: 、 。 《 》 「 」 【 】 and the ideographic space
    r"\uff00-\uff20\uff3b-\uff40\uff5b-\uff65"  # full-width punctuation and digits: ， ： （ ） ０-９
)
SEPARATED_COLUMNS = {
    ("violations_violation", "description"),
}
_SEPARATORS = re.compile(f"[{SEPARATORS}]+")


def separated(value: str) -> str:
    """``value`` without its separators (``SEPARATORS``), as the separated indexes see it."""
    return _SEPARATORS.sub("", value)


def bigrams(term: str, *, without_separators: bool = False) -> list[str]:
    """The character pairs a value must hold to contain ``term`` (upper-cased, each once; of the
    term without its separators for a ``SEPARATED_COLUMNS`` index)."""
    upper = separated(term.upper()) if without_separators else term.upper()
    return list(dict.fromkeys(upper[i : i + 2] for i in range(len(upper) - 1)))


# Every character pair of ``t``: the pairs starting at odd positions and those at even ones, each
# by one regexp_replace (a \x01 after each pair), split on \x01. The one-character tails and empty
# strings this leaves are entries no search asks for (``BigramContains`` asks for pairs); GIN keeps
# each distinct entry once. A plain expression, so PostgreSQL inlines it: the first version, an
# ``array_agg(DISTINCT …)`` over ``generate_series``, ran as a function call per row, 33 µs each,
# most of the cost of writing a violation (bench/README.md).
BIGRAM_FUNCTION = r"""
CREATE OR REPLACE FUNCTION qungui_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT string_to_array(
        regexp_replace(t, '(..)', E'\\1\x01', 'g') || E'\x01' || regexp_replace(substr(t, 2), '(..)', E'\\1\x01', 'g'),
        E'\x01'
    )
$$
"""
# What groups 0012 first created (its migration's reverse of 0020 puts it back).
BIGRAM_FUNCTION_AGGREGATE = """
CREATE OR REPLACE FUNCTION qungui_bigrams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr(t, i, 2)), '{}'::text[]) FROM generate_series(1, length(t) - 1) AS i
$$
"""


def bigram_index_name(table: str, column: str) -> str:
    return f"{table.split('_', 1)[1]}_{column}_bigram"[:30]


def pair_source(table: str, column: str, sql: str) -> tuple[str, list[str]]:
    """The text whose pairs the column's index holds: ``UPPER(sql)``, without its separators for a
    ``SEPARATED_COLUMNS`` one (the index's expression and the lookup's must be the same)."""
    if (table, column) in SEPARATED_COLUMNS:
        return f"regexp_replace(UPPER({sql}::text), %s, '', 'g')", [f"[{SEPARATORS}]+"]
    return f"UPPER({sql}::text)", []


def separated_pair_index(table: str, column: str) -> migrations.RunPython:
    """The column's pair index rebuilt over its text without separators; the reverse puts the plain
    one back (PostgreSQL only)."""
    # a literal, not a parameter: an index expression holds no placeholders
    pattern = "'" + f"[{SEPARATORS}]+".replace("'", "''") + "'"
    without = f"regexp_replace(UPPER(\"{column}\"::text), {pattern}, '', 'g')"

    def rebuild(source: str):
        def run(apps, schema_editor):
            if schema_editor.connection.vendor != "postgresql":
                return
            schema_editor.execute(f'DROP INDEX IF EXISTS "{bigram_index_name(table, column)}"')
            _create_pair_index(schema_editor, table, column, source)

        return run

    return migrations.RunPython(rebuild(without), rebuild(f'UPPER("{column}"::text)'), elidable=False)


def _create_pair_index(schema_editor, table: str, column: str, source: str, *, if_not_exists: bool = False) -> None:
    exists = "IF NOT EXISTS " if if_not_exists else ""
    name = bigram_index_name(table, column)
    schema_editor.execute(f'CREATE INDEX {exists}"{name}" ON "{table}" USING gin (qungui_bigrams({source}))')


def bigram_indexes(columns: list[tuple[str, str]], *, drop_function: bool = False) -> migrations.RunPython:
    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(BIGRAM_FUNCTION)
        for table, column in columns:
            _create_pair_index(schema_editor, table, column, f'UPPER("{column}"::text)', if_not_exists=True)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for table, column in columns:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{bigram_index_name(table, column)}"')
        if drop_function:  # the migration that created it (the others' indexes are gone by then)
            schema_editor.execute("DROP FUNCTION IF EXISTS qungui_bigrams(text)")

    return migrations.RunPython(forwards, backwards, elidable=False)


class BigramContains(Lookup):
    """``field__qungui_bigrams="王芳"``: the row's character pairs include every pair of the term
    (PostgreSQL; terms of two characters or more; used together with ``icontains``, which does the
    exact check)."""

    lookup_name = "qungui_bigrams"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        target = self.lhs.target
        table, column = target.model._meta.db_table, target.column
        source, source_params = pair_source(table, column, lhs)
        pairs = bigrams(str(self.rhs), without_separators=(table, column) in SEPARATED_COLUMNS)
        if not pairs:
            raise ValueError("qungui_bigrams needs a term of two characters or more (separators aside)")
        placeholders = ", ".join(["%s"] * len(pairs))
        sql = f"qungui_bigrams({source}) @> ARRAY[{placeholders}]::text[]"
        return sql, [*lhs_params, *source_params, *pairs]


CharField.register_lookup(BigramContains)
TextField.register_lookup(BigramContains)
