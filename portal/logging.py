"""Structured logs: one JSON object per line, carrying the request id or the Celery task id.

The ids live in context variables, set by portal.middleware.RequestIdMiddleware for a web request
and by the task_prerun/task_postrun handlers in portal.celery for a task, so any logger anywhere
(Django, libraries, our services) gets them without being passed anything.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str] = ContextVar("request_id", default="")
task_id_var: ContextVar[str] = ContextVar("task_id", default="")
task_name_var: ContextVar[str] = ContextVar("task_name", default="")

# LogRecord attributes that are not "extra" fields passed by the caller.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id", "task_id"}


class ContextFilter(logging.Filter):
    """Copy the current request and task ids onto every record (empty strings outside either)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = getattr(record, "request_id", "") or request_id_var.get()
        record.task_id = getattr(record, "task_id", "") or task_id_var.get()
        record.task_name = getattr(record, "task_name", "") or task_name_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as one line of JSON: time (UTC, ISO 8601), level, logger, message, ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        ContextFilter().filter(record)  # handlers that Celery set up carry no filter of ours
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "task_id", "task_name"):
            if getattr(record, key, ""):
                payload[key] = getattr(record, key)
        payload.update(self._extras(record))
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(payload, ensure_ascii=False, default=str)

    @staticmethod
    def _extras(record: logging.LogRecord) -> dict[str, object]:
        return {
            key: value
            for key, value in record.__dict__.items()
            if key not in _STANDARD_ATTRS and key != "task_name" and not key.startswith("_")
        }


def current_correlation_id() -> str | None:
    """The id that joins an audit row to its log lines (settings.AUDITLOG_CID_GETTER)."""
    return request_id_var.get() or task_id_var.get() or None
