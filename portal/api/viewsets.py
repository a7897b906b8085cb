"""Base viewsets: every row comes from ``visible_to(user)``; writes go through services, HR only.

A subclass names its model with ``queryset = Model.objects.all()`` (the router and the schema read
it), but rows never come from that queryset: ``get_queryset`` always starts again from
``Model.objects.visible_to(request.user)``, so lists and details are scoped alike and an id outside
the user's scope answers 404. (DRF applies object permissions to details only: lists are filtered
here, always; see docs/architecture.md.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db.models import Model, QuerySet
from rest_framework import viewsets

from .pagination import StandardPagination
from .permissions import HRWritesOthersRead

if TYPE_CHECKING:  # the mixin is only ever combined with a GenericViewSet
    _ViewSetBase = viewsets.GenericViewSet
else:
    _ViewSetBase = object


class ScopedViewSetMixin(_ViewSetBase):
    select_related_fields: tuple[str, ...] = ()
    prefetch_related_fields: tuple[Any, ...] = ()
    permission_classes = [HRWritesOthersRead]
    pagination_class = StandardPagination

    def get_queryset(self) -> QuerySet:
        assert self.queryset is not None, f"{type(self).__name__} names its model with queryset = ..."
        manager: Any = self.queryset.model._default_manager
        # During schema generation there is no user: no rows.
        fake = getattr(self, "swagger_fake_view", False)
        rows = manager.none() if fake else manager.visible_to(self.request.user)
        rows = rows.select_related(*self.select_related_fields).prefetch_related(*self.prefetch_related_fields)
        return self.refine_queryset(rows)

    def refine_queryset(self, queryset: QuerySet) -> QuerySet:
        """Annotations a subclass's serializer needs (counts, derived ids). Must not widen the scope."""
        return queryset


class ScopedReadOnlyViewSet(ScopedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve within the user's scope."""


class ScopedModelViewSet(ScopedViewSetMixin, viewsets.ModelViewSet):
    """List, retrieve, and (HR only) create/update/delete through service functions.

    Subclasses set ``create_service(*, acting_user, **data)``, ``update_service(obj, *, acting_user,
    **data)`` and ``delete_service(obj, *, acting_user)``; leave ``http_method_names`` without the
    verbs a resource does not support. The answer is re-read through ``get_queryset`` so it carries
    the same annotations as a list row.
    """

    create_service: Callable[..., Model] | None = None
    update_service: Callable[..., Model] | None = None
    delete_service: Callable[..., None] | None = None

    @classmethod
    def _service(cls, name: str) -> Callable[..., Any]:
        service = getattr(cls, name)
        if service is None:
            raise NotImplementedError(f"{cls.__name__}.{name} is not set: this verb is not offered")
        return service

    def perform_create(self, serializer) -> None:
        obj = self._service("create_service")(acting_user=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=obj.pk)

    def perform_update(self, serializer) -> None:
        update = self._service("update_service")
        obj = update(serializer.instance, acting_user=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=obj.pk)

    def perform_destroy(self, instance) -> None:
        self._service("delete_service")(instance, acting_user=self.request.user)
