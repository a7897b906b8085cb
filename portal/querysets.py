"""Reads and scoping for the portal's own models."""

from __future__ import annotations

from django.db import models

from .scoping import scope_for


class ExportJobQuerySet(models.QuerySet):
    def visible_to(self, user) -> ExportJobQuerySet:
        """An export file carries personal data: only the person who asked for it, or HR, may see it."""
        if scope_for(user).is_hr:
            return self.all()
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(created_by=user)
