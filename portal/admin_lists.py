"""Admin lists that stay fast on tables of a million rows: bounded counts and index-friendly search.

- ``EstimatedCountPaginator``: counts exactly up to ``exact_up_to`` rows (a ``COUNT(*)`` over a
  ``LIMIT``-ed subquery, which reads at most that many index entries); above that, on PostgreSQL,
  the planner's estimate (``pg_class.reltuples`` for a whole table, ``EXPLAIN`` for a filtered one),
  marked as estimated (the pagination template shows 约). On other databases: the exact count.
- ``IndexedSearchMixin``: the admin search as a union of one id set per search field
  (``pk IN (ids by field 1 UNION ids by field 2 …)``) instead of one ``WHERE`` that ORs conditions
  across joined tables. Each part can use its own index (the trigram indexes on PostgreSQL, the
  foreign-key indexes to come back), nothing joins the to-many side into the list, so no
  ``SELECT DISTINCT`` over every column is needed. Same matches as Django's search (each word in
  some field, ``icontains``), on every database.

Measured with ``bench/bench_pages.py`` (README "Benchmarks").
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import F, OrderBy, QuerySet
from django.db.models.functions import Coalesce
from django.utils.functional import cached_property
from django.utils.text import smart_split, unescape_string_literal

from portal.trigram import BIGRAM_COLUMNS, BIGRAM_ONLY_COLUMNS, SEPARATED_COLUMNS, bigrams


class EstimatedCountPaginator(Paginator):
    exact_up_to = 10_000
    deep_from = 1_000

    estimated = False

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not isinstance(qs, QuerySet):
            return super().count
        bounded = qs.order_by()[: self.exact_up_to + 1].count()
        if bounded <= self.exact_up_to or connections[qs.db].vendor != "postgresql":
            return bounded if bounded <= self.exact_up_to else qs.count()
        estimate = self._estimate(qs)
        if estimate is None or estimate <= self.exact_up_to:
            return qs.count()
        self.estimated = True
        return estimate

    def page(self, number):
        """A deep page (OFFSET in the thousands): the page's ids first, from the ordering's index
        alone, then its 50 rows with their joins; not every skipped row joined and thrown away."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        qs = self.object_list
        if bottom < self.deep_from or not isinstance(qs, QuerySet) or qs.query.is_sliced:
            return super().page(number)
        ids = qs.values_list("pk", flat=True)
        if self._sort_beats_walk(qs, bottom):
            ids = ids.order_by(*_unindexed(qs))
        return self._get_page(qs.filter(pk__in=list(ids[bottom : bottom + self.per_page])), number, self)

    def _sort_beats_walk(self, qs: QuerySet, bottom: int) -> bool:
        """Whether sorting the matching rows beats walking the ordering's index to the page.

        Walking the index to row ``bottom`` of a filter that keeps ``count`` of the table's ``total``
        rows reads about ``bottom × total / count`` rows, each checked against the filter; sorting
        reads the ``count`` matching rows by the filter's own index. PostgreSQL's planner walks
        whenever a LIMIT is small, whatever the OFFSET: for a department head's page 500 of the
        violations (107k of 1M rows, 231k rows walked) that was 1.1 s against 0.1 s sorted.
        """
        if not qs.query.where or connections[qs.db].vendor != "postgresql" or not self.count:
            return False
        total = self._estimate(qs.model._default_manager.using(qs.db).all()) or 0
        return bottom * total / self.count > self.count

    @staticmethod
    def _estimate(qs: QuerySet) -> int | None:
        with connections[qs.db].cursor() as cursor:
            if not qs.query.where:  # the whole table: what ANALYZE (autovacuum) last counted
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [qs.model._meta.db_table]
                )
                row = cursor.fetchone()
                return row[0] if row and row[0] > 0 else None
            sql, params = qs.order_by().values("pk").query.sql_with_params()
            cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
            plan = cursor.fetchone()[0]
            plan = json.loads(plan) if isinstance(plan, str) else plan
            return int(plan[0]["Plan"]["Plan Rows"])


def _unindexed(qs: QuerySet) -> list:
    """``qs``'s ordering with its first key wrapped as ``COALESCE(key, key)``: the same order, which
    no index provides, so the planner sorts the rows its filter finds instead of walking an index."""
    ordering = list(qs.query.order_by or (qs.query.get_meta().ordering if qs.query.default_ordering else []))
    if not ordering or ordering[0] == "?":
        return ordering
    first = ordering[0]
    if isinstance(first, str):
        name = first.lstrip("-")
        first = OrderBy(F(name), descending=first.startswith("-"))
    elif not isinstance(first, OrderBy):
        first = OrderBy(first)
    fenced = OrderBy(
        Coalesce(first.expression, first.expression),
        descending=first.descending,
        nulls_first=first.nulls_first,
        nulls_last=first.nulls_last,
    )
    return [fenced, *ordering[1:]]


class ListPaginator(EstimatedCountPaginator):
    """The portal's own lists (dashboard drill-downs, 待核实) and admin lists whose rows join a large
    table (the appeals): the same bounded count, and every page's ids first — the list sorts and
    scopes on its own table and its ordering's index, then the page's rows are joined — not only
    deep ones."""

    deep_from = 0


MATERIALIZE_UP_TO = 5_000


def union_search(queryset: QuerySet, terms, fields: list[str]) -> QuerySet:
    """``queryset`` narrowed to rows where every term is in some field (``icontains``), each term as
    ``pk IN (SELECT pk … field 1 UNION SELECT pk … field 2 …)``: one indexed lookup per field, no
    join of a to-many relation into the outer query (so no duplicates, no DISTINCT)."""
    manager = queryset.model._default_manager
    postgres = connections[queryset.db].vendor == "postgresql"
    for term in terms:
        parts = []
        for field in fields:
            lookups = {f"{field}__icontains": term}
            column = _column(queryset.model, field) if postgres else None
            if column in SEPARATED_COLUMNS:  # its index holds the pairs without separators: a term's, if any
                if bigrams(term, without_separators=True):
                    lookups[f"{field}__qungui_bigrams"] = term
            elif column in BIGRAM_COLUMNS and (len(term) == 2 or (len(term) > 2 and column in BIGRAM_ONLY_COLUMNS)):
                lookups[f"{field}__qungui_bigrams"] = term  # the index for what pg_trgm cannot answer
            parts.append(manager.filter(**lookups).order_by().values("pk"))
        ids = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
        if postgres:
            # The planner cannot know how few rows the LIKEs keep (a rule code could match 40,000
            # violations), so it hash-joins the whole table against the set; a few thousand ids
            # fetched first make the list and its count index lookups.
            found = [row["pk"] for row in ids[: MATERIALIZE_UP_TO + 1]]
            if len(found) <= MATERIALIZE_UP_TO:
                ids = found
        queryset = queryset.filter(pk__in=ids)
    return queryset


def _column(model, path: str) -> tuple[str, str]:
    """(table, column) that a search field path ends on."""
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model._meta.db_table, model._meta.get_field(name).column


class IndexedSearchMixin:
    """For ModelAdmins with ``search_fields`` of plain field paths (no ^ = @ prefixes)."""

    def get_search_results(self, request, queryset, search_term):
        fields = [str(f) for f in self.get_search_fields(request)]  # type: ignore[attr-defined]
        if not (fields and search_term) or any(f[0] in "^=@" for f in fields):
            return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]
        terms = [
            unescape_string_literal(bit) if bit.startswith(('"', "'")) and bit[0] == bit[-1] else bit
            for bit in smart_split(search_term)
        ]
        return union_search(queryset, terms, fields), False
