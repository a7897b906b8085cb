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

from django.db import migrations


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
