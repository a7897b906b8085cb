"""Gunicorn settings for the web service (docker-compose.yml and scripts/prodlike.sh use this file).

Environment: GUNICORN_BIND (0.0.0.0:8000), WEB_CONCURRENCY (worker processes, 3), GUNICORN_THREADS
(1), GUNICORN_TIMEOUT (120 s: month-end exports stream for a while), FORWARDED_ALLOW_IPS (proxies
whose X-Forwarded-* headers are trusted). No access log from gunicorn: portal.middleware writes one
JSON line per request with its request id; gunicorn's own messages are JSON lines too.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30  # SIGTERM: finish requests in flight for up to 30 s, then exit
keepalive = 5
# Recycle workers now and then so that a slow leak cannot grow forever; jitter avoids all at once.
max_requests = 2000
max_requests_jitter = 200
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = None
errorlog = "-"
# Heartbeat files on tmpfs, so that a slow container disk cannot get workers killed (gunicorn docs).
# They are gunicorn's own short-lived files, not user data.
SHM = "/dev/shm"  # noqa: S108
if os.path.isdir(SHM):
    worker_tmp_dir = SHM

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}
