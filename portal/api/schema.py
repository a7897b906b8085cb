"""OpenAPI generation: every operation documents the shared error body for its 4xx answers."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from rest_framework.permissions import AllowAny

from .serializers import ErrorSerializer


class QunguiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            responses.setdefault(code, self._get_response_for_code(ErrorSerializer, code, direction=direction))
        return responses

    def _error_codes(self) -> list[str]:
        codes = ["400", "429"]  # bad parameters or body; throttled
        public = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        if not public:
            codes += ["401", "403", "404"]  # 404: an id out of scope, or a page past the end
        if self.method in ("POST", "PUT", "PATCH", "DELETE") and not public:
            codes.append("409")  # still referenced, or a concurrent write
        return codes
