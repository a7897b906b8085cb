"""Locale-aware formatting for the portal's templates: money in CNY, month labels, querystrings."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode

from django import template
from django.utils import formats, numberformat

register = template.Library()


def _grouped(value, decimal_pos: int | None) -> str:
    """Digits grouped by the active locale; a locale without a thousands separator (Django's zh-hans)
    gets the "," every three digits that Chinese finance and HR documents use (¥1,234.50)."""
    separator = formats.get_format("THOUSAND_SEPARATOR")
    grouping = formats.get_format("NUMBER_GROUPING") if separator else 3
    return numberformat.format(
        value,
        formats.get_format("DECIMAL_SEPARATOR"),
        decimal_pos=decimal_pos,
        grouping=grouping,
        thousand_sep=separator or ",",
        force_grouping=True,
    )


@register.filter
def num(value) -> str:
    """A whole number with thousands separators: ``50000`` → ``50,000``."""
    if value is None or value == "":
        return ""
    try:
        return _grouped(int(value), None)
    except (TypeError, ValueError):
        return str(value)


@register.filter
def money(value) -> str:
    """``1234.5`` → ``¥1,234.50`` (the locale's separators); empty for None."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{_grouped(abs(amount), 2)}"


@register.filter
def month_label(value: datetime.date) -> str:
    """2026-10-01 → "2026年10月" / "October 2026" (the locale's YEAR_MONTH_FORMAT)."""
    return formats.date_format(value, "YEAR_MONTH_FORMAT")


@register.simple_tag(takes_context=True)
def query(context, **params) -> str:
    """The current page's querystring with ``params`` replaced (a value of None drops the key)."""
    current = context["request"].GET.copy()
    for key, value in params.items():
        if value is None or value == "":
            current.pop(key, None)
        else:
            current[key] = value.strftime("%Y-%m") if isinstance(value, datetime.date) else value
    encoded = urlencode(sorted(current.items()))
    return f"?{encoded}" if encoded else "?"
