"""Date and time inputs of the API, limited to a sane range.

Python and PostgreSQL accept year 1 to 9999, but a date before 1901 renders in Asia/Shanghai with
its local mean time offset (+08:05:43), which RFC 3339 does not allow, and no roster, violation or
appeal of this portal lies outside 1970..2100. Every model serializer's date and datetime fields
use these (``install``), and explicit fields are declared with them.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

API_MIN_DATE = dt.date(1970, 1, 1)
API_MAX_DATE = dt.date(2100, 12, 31)
OUT_OF_RANGE = _("日期须在 %(min)s 至 %(max)s 之间。")


def _check(day: dt.date) -> None:
    if not API_MIN_DATE <= day <= API_MAX_DATE:
        raise serializers.ValidationError(OUT_OF_RANGE % {"min": API_MIN_DATE, "max": API_MAX_DATE}, code="invalid")


class SaneDateField(serializers.DateField):
    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        _check(day)
        return day


class SaneDateTimeField(serializers.DateTimeField):
    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        _check(timezone.localtime(moment).date() if timezone.is_aware(moment) else moment.date())
        return moment


def install() -> None:
    """Make every ModelSerializer map DateField/DateTimeField to the range-checked fields."""
    mapping = dict(serializers.ModelSerializer.serializer_field_mapping)
    mapping[models.DateField] = SaneDateField
    mapping[models.DateTimeField] = SaneDateTimeField
    serializers.ModelSerializer.serializer_field_mapping = mapping


install()
