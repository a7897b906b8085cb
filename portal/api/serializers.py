"""Serializer building blocks: scoped relations, model-level validation, the error body's schema."""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model
from rest_framework import serializers

from . import fields  # noqa: F401  range-checked dates for every ModelSerializer (fields.install)
from .exceptions import django_error_detail


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A related id the requesting user may see; any other id reads "does not exist" (no leak)."""

    def get_queryset(self):
        request = self.context.get("request")
        queryset: Any = super().get_queryset()  # a model's QuerySet with visible_to (the scoped managers)
        return queryset.visible_to(getattr(request, "user", None))


class ModelValidatingSerializer(serializers.ModelSerializer):
    """Checks the model's ``clean()`` and database constraints before the service writes.

    So a CheckConstraint or a conditional UniqueConstraint answers 400 with its message, not an
    IntegrityError. Only concrete model fields take part; many-to-many values are left out.
    """

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        candidate = self._candidate(attrs)
        try:
            candidate.clean()
            candidate.validate_constraints()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(django_error_detail(exc)) from exc
        return attrs

    def _candidate(self, attrs: dict) -> Model:
        model: type[Model] = self.Meta.model
        concrete = {f.name for f in model._meta.concrete_fields}
        values = {name: value for name, value in attrs.items() if name in concrete}
        if self.instance is None:
            return model(**values)
        candidate = copy.copy(self.instance)
        for name, value in values.items():
            setattr(candidate, name, value)
        return candidate


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="machine-readable code, e.g. invalid, not_found, permission_denied")
    message = serializers.CharField(help_text="human-readable message in the request's language")
    fields = serializers.DictField(  # type: ignore[assignment]  # the error body's "fields", not Serializer.fields
        help_text="for code=invalid: field name -> list of messages (non_field_errors for the whole object)"
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx answer (documented in the schema for each operation)."""

    error = ErrorDetailSerializer()
