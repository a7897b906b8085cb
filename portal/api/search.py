"""``?search=`` for the API as the admin searches: a union of indexed id sets (portal.admin_lists)."""

from __future__ import annotations

from rest_framework.filters import SearchFilter

from portal.admin_lists import union_search


class IndexedSearchFilter(SearchFilter):
    """DRF's SearchFilter (same terms, same fields, ``icontains``), without ORing conditions across
    joined tables in one WHERE and without ``DISTINCT``: on PostgreSQL each field's part uses its
    trigram or foreign-key index. Fields with a lookup prefix (^ = @ $) keep DRF's behaviour."""

    def filter_queryset(self, request, queryset, view):
        fields = [str(f) for f in (self.get_search_fields(view, request) or [])]
        terms = self.get_search_terms(request)
        if not (fields and terms) or any(f[0] in "^=@$" for f in fields):
            return super().filter_queryset(request, queryset, view)
        return union_search(queryset, terms, fields)
