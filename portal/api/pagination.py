"""List pagination: page numbers for shallow pages, a keyset cursor for walking a large list.

Two modes, chosen per request:

- **Page numbers** (``?page=`` / ``?page_size=``, the default, unchanged for existing clients):
  ``{"count", "next", "previous", "results"}``. A page number is an ``OFFSET``: the database reads
  and throws away every row before it, so a deep page costs as much as the whole list. Pages whose
  first row lies beyond ``MAX_PAGE_OFFSET`` rows answer 400 (code ``page_too_deep``) naming the
  cursor instead.
- **Cursor** (``?cursor=`` — empty for the first page — then the ``next`` / ``previous`` links):
  ``{"next", "previous", "results"}``, no count. The cursor holds the sort key of the last row
  sent; the next page is ``WHERE (key) > (last key) ORDER BY key LIMIT n`` (keyset pagination), one
  index range read whatever the depth. The sort key is the list's ordering (``?ordering=`` or its
  default) with the primary key appended, so it is unique and no row is skipped or repeated when
  rows are added meanwhile. NULLs sort last ascending and first descending (PostgreSQL's default,
  so its indexes serve both directions).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import F, Q, QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_PAGE_OFFSET = 10_000  # rows: page numbers reach this deep; beyond, the cursor


class PageTooDeep(APIException):
    status_code = 400
    default_code = "page_too_deep"


class InvalidCursor(APIException):
    status_code = 400
    default_code = "invalid_cursor"


class _ExactEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder keeps milliseconds only (ECMA-262); a cursor needs the exact microsecond."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


@dataclass(frozen=True)
class _Key:
    name: str  # the ORM path, e.g. "group_id", "employee__employee_no", "pk"
    descending: bool
    nullable: bool

    def order(self, descending: bool):
        expression = F(self.name)
        # NULLS LAST ascending / FIRST descending: reversing the list flips both together.
        return expression.desc(nulls_first=True) if descending else expression.asc(nulls_last=True)


def _nullable(model, path: str) -> bool:
    """Whether the ORM path may be NULL; an annotation (not a model field) is assumed nullable."""
    if path == "pk":
        return False
    nullable = False
    for part in path.split("__"):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            attname = {f.attname: f for f in model._meta.concrete_fields}.get(part)
            if attname is None:
                return True
            field = attname
        nullable = nullable or field.null
        if field.is_relation and field.related_model is not None and part != field.attname:
            model = field.related_model
    return nullable


def _value(obj, path: str) -> Any:
    for part in path.split("__"):
        obj = None if obj is None else getattr(obj, part)
    return obj


def _after(key: _Key, descending: bool, value: Any) -> Q | None:
    """Rows strictly after ``value`` in this key's order (None: no row is)."""
    if value is None:  # NULLs are last ascending, first descending
        return Q(**{f"{key.name}__isnull": False}) if descending else None
    query = Q(**{f"{key.name}__{'lt' if descending else 'gt'}": value})
    if key.nullable and not descending:
        query |= Q(**{f"{key.name}__isnull": True})
    return query


def _equal(key: _Key, value: Any) -> Q:
    return Q(**{f"{key.name}__isnull": True}) if value is None else Q(**{key.name: value})


def keyset_filter(keys: list[_Key], values: list[Any], reverse: bool) -> Q:
    """``(k1, k2, …) > (v1, v2, …)`` lexicographically, each key in its own direction.

    Written ``k1 >= v1 AND (k1 > v1 OR (k1 = v1 AND (…)))``: the leading bound lets the database
    start the index scan at the cursor instead of filtering from the first row.
    """
    query: Q | None = None
    for key, value in reversed(list(zip(keys, values, strict=True))):
        descending = key.descending != reverse
        after = _after(key, descending, value)
        tail = _equal(key, value) & query if query is not None else None
        if after is None and tail is None:
            query = Q(pk__in=[])
        elif after is None:
            query = tail
        elif tail is None:
            query = after
        else:
            query = after | tail
    assert query is not None
    first, value = keys[0], values[0]
    if value is not None and not first.nullable:
        query &= Q(**{f"{first.name}__{'lte' if first.descending != reverse else 'gte'}": value})
    return query


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_param = "cursor"
    max_page_offset = MAX_PAGE_OFFSET

    # --- mode ------------------------------------------------------------------------------------

    def paginate_queryset(self, queryset, request, view=None):
        self.cursor_mode = self.cursor_query_param in request.query_params
        if self.cursor_mode:
            return self._paginate_cursor(queryset, request)
        page_size = self.get_page_size(request)
        if page_size:
            raw = request.query_params.get(self.page_query_param, "1")
            number = int(raw) if raw.isdigit() else 1
            if (number - 1) * page_size >= self.max_page_offset:
                raise PageTooDeep(
                    _(
                        "页码过深:按页码翻页最多到第 %(limit)s 条记录。"
                        "请改用游标翻页:加上 ?cursor= 参数,然后沿响应中的 next 链接继续。"
                    )
                    % {"limit": self.max_page_offset}
                )
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.cursor_mode:
            return Response({"next": self._next_link, "previous": self._previous_link, "results": data})
        return super().get_paginated_response(data)

    # --- keyset ----------------------------------------------------------------------------------

    def _keys(self, queryset: QuerySet) -> list[_Key]:
        terms = list(queryset.query.order_by) or list(queryset.model._meta.ordering)
        keys: list[_Key] = []
        for term in terms:
            if not isinstance(term, str):
                raise InvalidCursor(_("此列表的排序不支持游标翻页。"))
            descending = term.startswith("-")
            name = term.lstrip("-")
            if name in ("id", queryset.model._meta.pk.name):
                name = "pk"
            keys.append(_Key(name, descending, _nullable(queryset.model, name)))
            if name == "pk":
                break  # unique: later terms never decide
        if not keys or keys[-1].name != "pk":
            keys.append(_Key("pk", keys[-1].descending if keys else False, False))
        return keys

    def _encode(self, keys: list[_Key], values: list[Any], reverse: bool) -> str:
        payload = {"k": [("-" if k.descending else "") + k.name for k in keys], "v": values, "r": reverse}
        raw = json.dumps(payload, cls=_ExactEncoder, separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _decode(self, text: str, keys: list[_Key]) -> tuple[list[Any], bool] | None:
        if not text:
            return None  # ?cursor= : the first page
        try:
            payload = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            signature = [("-" if k.descending else "") + k.name for k in keys]
            if payload["k"] != signature or len(payload["v"]) != len(keys):
                raise ValueError("another ordering")
            return list(payload["v"]), bool(payload["r"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise InvalidCursor(_("游标无效或与当前排序不符:请从 ?cursor= 重新开始。")) from exc

    def _paginate_cursor(self, queryset: QuerySet, request) -> list:
        self.request = request
        self.page_size = self.get_page_size(request) or 50
        keys = self._keys(queryset)
        position = self._decode(request.query_params.get(self.cursor_query_param, ""), keys)
        reverse = bool(position and position[1])
        rows = queryset.order_by(*(k.order(k.descending != reverse) for k in keys))
        if position is not None:
            try:
                rows = rows.filter(keyset_filter(keys, position[0], reverse))
            except (ValueError, TypeError) as exc:
                raise InvalidCursor(_("游标无效或与当前排序不符:请从 ?cursor= 重新开始。")) from exc
        page = list(rows[: self.page_size + 1])
        has_more = len(page) > self.page_size
        page = page[: self.page_size]
        if reverse:
            page.reverse()
        url = request.build_absolute_uri()
        self._next_link = self._previous_link = None
        if page:
            first = [_value(page[0], k.name) for k in keys]
            last = [_value(page[-1], k.name) for k in keys]
            if has_more or reverse:
                self._next_link = replace_query_param(url, self.cursor_query_param, self._encode(keys, last, False))
            if position is not None and (has_more or not reverse):
                self._previous_link = replace_query_param(url, self.cursor_query_param, self._encode(keys, first, True))
        elif reverse:  # stepped back past the start: offer the first page again
            self._next_link = replace_query_param(url, self.cursor_query_param, "")
        self._next_link = self._next_link and remove_query_param(self._next_link, self.page_query_param)
        self._previous_link = self._previous_link and remove_query_param(self._previous_link, self.page_query_param)
        return page

    # --- schema (drf-spectacular) ----------------------------------------------------------------

    def get_paginated_response_schema(self, schema):
        described = super().get_paginated_response_schema(schema)
        described["required"] = ["results"]
        described["properties"]["count"]["description"] = "Page-number mode only (absent with ?cursor=)."
        described["properties"]["next"]["description"] = "Next page: a page-number link, or with ?cursor= a cursor."
        return described

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["description"] = (
                    f"Page number (offset pagination, up to {self.max_page_offset} rows deep; beyond, use cursor)."
                )
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Keyset pagination: pass it empty for the first page, then follow next/previous. "
                    "Constant time at any depth; the answer has no count."
                ),
                "schema": {"type": "string"},
            }
        )
        return parameters
