"""The Celery app. Configured from Django settings (CELERY_ namespace); tasks are autodiscovered.

Without REDIS_URL the tasks run eagerly in-process (CELERY_TASK_ALWAYS_EAGER), so the embedded
default needs no broker. The beat schedule lives in settings.CELERY_BEAT_SCHEDULE.

Logging: the worker's and beat's handlers get portal.logging.JsonFormatter (when LOG_FORMAT=json),
and every log line written while a task runs carries its task id and name (task_prerun/postrun set
the context variables that the formatter reads). A task sent from a web request carries that
request's id in a message header, so its log lines can be joined to the request's.
"""

import logging
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _add_worker_steps() -> None:
    from .leases import MessageLeases

    app.steps["consumer"].add(MessageLeases)


_add_worker_steps()

REQUEST_ID_HEADER = "qungui_request_id"


def _use_portal_formatter(logger: logging.Logger, **kwargs) -> None:
    from django.conf import settings

    from .logging import ContextFilter, JsonFormatter

    for handler in logger.handlers:
        handler.addFilter(ContextFilter())
        if settings.LOG_FORMAT == "json":
            handler.setFormatter(JsonFormatter())


@signals.after_setup_logger.connect
def setup_worker_logger(logger: logging.Logger, **kwargs) -> None:
    _use_portal_formatter(logger)


@signals.after_setup_task_logger.connect
def setup_task_logger(logger: logging.Logger, **kwargs) -> None:
    _use_portal_formatter(logger)


@signals.worker_ready.connect
def send_pending_tasks(**kwargs) -> None:
    """A starting worker sends what was recorded while the broker was down (portal.outbox)."""
    from . import outbox

    try:
        outbox.flush()
    except Exception:  # the database may be down too: beat's flush-pending-tasks tries again
        logging.getLogger(__name__).warning("could not send pending tasks at worker start", exc_info=True)


@signals.before_task_publish.connect
def attach_request_id(headers: dict | None = None, **kwargs) -> None:
    from .logging import request_id_var

    if headers is not None and request_id_var.get():
        headers.setdefault(REQUEST_ID_HEADER, request_id_var.get())


@signals.task_prerun.connect
def bind_task_context(task_id: str = "", task=None, **kwargs) -> None:
    from .logging import request_id_var, task_id_var, task_name_var

    task_id_var.set(task_id or "")
    task_name_var.set(getattr(task, "name", "") or "")
    request_id_var.set(_header(task, REQUEST_ID_HEADER))


@signals.task_postrun.connect
def unbind_task_context(**kwargs) -> None:
    from .logging import request_id_var, task_id_var, task_name_var

    # An eagerly run task (no broker) ran inside the web request: keep the request's id then.
    if not getattr(getattr(kwargs.get("task"), "request", None), "is_eager", False):
        request_id_var.set("")
    task_id_var.set("")
    task_name_var.set("")


def _header(task, name: str) -> str:
    request = getattr(task, "request", None)
    if request is None or getattr(request, "is_eager", False):
        from .logging import request_id_var

        return request_id_var.get()
    value = getattr(request, name, None) or (getattr(request, "headers", None) or {}).get(name)
    return str(value) if value else ""
