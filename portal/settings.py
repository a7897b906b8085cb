"""Qungui settings: one env-driven module.

Nothing set  -> SQLite file under var/, Celery tasks run in-process (eager), DEBUG on.
DATABASE_URL -> PostgreSQL through psycopg 3.
REDIS_URL    -> Celery broker and result backend on Redis (run a worker and one beat).
DEBUG=0      -> production: refuses to start without a real SECRET_KEY and ALLOWED_HOSTS.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105  refused when DEBUG is off

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env("SECRET_KEY", DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")

if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 40:
        raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY to a random string of 50+ characters.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: set ALLOWED_HOSTS (comma-separated host names).")

VAR_DIR = Path(env("QUNGUI_VAR_DIR", str(BASE_DIR / "var")))

INSTALLED_APPS = [
    "portal.admin_site.PortalAdminConfig",  # django.contrib.admin with the portal's pickers
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",  # OpClass in index expressions (the trigram indexes); inert on SQLite
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "treebeard",
    "auditlog",
    "axes",
    "csp",
    "portal",
    "groups",
    "violations",
    "portal.dashboard",  # the top floor: reads every app (after them)
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    # Probes answer before host validation, SSL redirect, sessions and login (see portal/health.py).
    "portal.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # The portal's 404 page instead of Django's technical one when DEBUG is on (portal/errors.py).
    "portal.errors.ErrorPageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.roles",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Server-side cursors break behind PgBouncer in transaction mode (docs/operations.md).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env_bool("DB_DISABLE_SERVER_SIDE_CURSORS", False)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(VAR_DIR / "qungui.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True

# --- Auth -------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, refusing logins and sessions of departed employees (groups/accounts.py).
    "groups.accounts.EmployedModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_SAVE_EVERY_REQUEST = True  # expiry counts from the last request: logged out after inactivity

# django-axes: lock a username after AXES_FAILURE_LIMIT failures, and a client address after
# AXES_IP_FAILURE_LIMIT failures (whatever usernames it tried: password spraying), each with a
# cool-off. The address limit is higher because an office behind one NAT shares an address.
# portal/login_limits.py applies the two limits and finds the client address (PROXY_COUNT).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_IP_FAILURE_LIMIT = env_int("AXES_IP_FAILURE_LIMIT", 30)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks (not the combination)
AXES_HANDLER = "portal.login_limits.PerUsernameAndAddressHandler"
AXES_RESET_ON_SUCCESS = True  # resets the username's failures only (see the handler)
# Behind PROXY_COUNT reverse proxies (nginx in docker-compose.yml: 1) the client address is the
# X-Forwarded-For entry the outermost trusted proxy wrote; with 0 it is REMOTE_ADDR and
# X-Forwarded-For is ignored (a client could write anything there). DRF's throttles count the same.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "portal.login_limits.client_ip"
AXES_ENABLED = env_bool("AXES_ENABLED", True)
SILENCED_SYSTEM_CHECKS: list[str] = []

# --- Language and time ------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# locale: the portal's own strings (English; the source is Chinese). locale_vendor: Chinese for third-party
# apps that ship no zh_Hans catalog (auditlog, axes, treebeard, django-filter), kept apart so makemessages never
# touches it.
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "locale_vendor"]
FORMAT_MODULE_PATH = ["portal.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600

# --- Static files and uploads -----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Evidence and import files are private: never under a public URL; served by views that check access.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/private-media/"  # no URL pattern serves it: files go through views that check access
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads spool to a temp file
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Roster files with more rows than this are validated and written by a Celery task (progress bar).
ROSTER_IMPORT_ASYNC_ROWS = env_int("ROSTER_IMPORT_ASYNC_ROWS", 5000)
ROSTER_UPLOAD_MAX_BYTES = env_int("ROSTER_UPLOAD_MAX_MB", 200) * 1024 * 1024
# Hostile roster files are refused before parsing: rows and columns of a sheet or CSV, and an XLSX's
# declared uncompressed size (all members) and per-member compression ratio (zip bombs).
ROSTER_MAX_ROWS = env_int("ROSTER_MAX_ROWS", 300_000)
ROSTER_MAX_COLUMNS = env_int("ROSTER_MAX_COLUMNS", 100)
ROSTER_XLSX_MAX_UNCOMPRESSED_MB = env_int("ROSTER_XLSX_MAX_UNCOMPRESSED_MB", 512)
ROSTER_XLSX_MAX_RATIO = env_int("ROSTER_XLSX_MAX_RATIO", 100)
# Uploads that never finish (abandoned previews, failed or invalid jobs) are deleted after this long.
ROSTER_UPLOAD_KEEP_HOURS = env_int("ROSTER_UPLOAD_KEEP_HOURS", 24)
# A job left 校验中 this long (its worker died) may be validated again or cancelled.
ROSTER_VALIDATE_STALE_MINUTES = env_int("ROSTER_VALIDATE_STALE_MINUTES", 15)
CHAT_UPLOAD_MAX_BYTES = env_int("CHAT_UPLOAD_MAX_MB", 1024) * 1024 * 1024
# Chat uploads above this are read and written by a worker, with a progress bar (groups.chat.jobs).
CHAT_IMPORT_ASYNC_BYTES = env_int("CHAT_IMPORT_ASYNC_MB", 20) * 1024 * 1024
# A chat upload being read whose progress has not moved for this long has lost its worker.
CHAT_IMPORT_STALE_SECONDS = env_int("CHAT_IMPORT_STALE_SECONDS", 120)
CHAT_IMPORT_MAX_ATTEMPTS = env_int("CHAT_IMPORT_MAX_ATTEMPTS", 3)
EVIDENCE_UPLOAD_MAX_BYTES = env_int("EVIDENCE_UPLOAD_MAX_MB", 20) * 1024 * 1024

# --- Celery -----------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL and not env_bool("CELERY_FORCE_BROKER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True  # a killed worker's task is redelivered: tasks are idempotent
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 25 * 60)
# Unacknowledged messages are leased to the worker holding them (see portal.leases).
CELERY_MESSAGE_LEASE_SECONDS = env_int("CELERY_MESSAGE_LEASE_SECONDS", 30)
CELERY_MESSAGE_LEASE_RENEW = max(1, CELERY_MESSAGE_LEASE_SECONDS // 6)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A Redis that accepts connections but never answers must not hang web requests (celery #4296).
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_timeout": 3,
    "socket_connect_timeout": 3,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
    # A lease, not a task's length: each worker renews its messages' stamps every
    # CELERY_MESSAGE_LEASE_RENEW seconds (portal.leases), so a killed worker's messages are taken up
    # by another worker within a lease plus one sweep, while live tasks of any length keep theirs.
    "visibility_timeout": CELERY_MESSAGE_LEASE_SECONDS,
    "unacked_restore_interval": CELERY_MESSAGE_LEASE_RENEW,  # sweep for expired leases this often
    "unacked_restore_throttle": 1,  # … really (kombu's default scans on every 10th sweep only)
    "unacked_mutex_expire": CELERY_MESSAGE_LEASE_SECONDS,  # a sweeper killed mid-sweep blocks no longer
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"socket_timeout": 3, "socket_connect_timeout": 3}
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2)
# The queue tasks are sent to and workers consume by default: two installations sharing one Redis
# (a staging portal beside production) each name their own.
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "celery")
# Chat detection runs per chunk of this many groups; the nightly pass sends one task per chunk, so
# smaller chunks spread a night's work over more workers (violations.services.detection).
DETECTION_GROUPS_PER_CHUNK = env_int("DETECTION_GROUPS_PER_CHUNK", 200)
# Beat's own bookkeeping file (not the schedule itself); beat runs exactly once per installation.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Periodic jobs (run exactly one `celery -A portal beat`). Times are Asia/Shanghai. Each job also
# takes a lock (portal.locks), so a slow run and the next one never overlap; a run that finds the
# lock held is retried later, and a killed run's lock dies with it.
CELERY_BEAT_SCHEDULE: dict = {
    # Before the reconciliation: the synced rosters are the ones it checks.
    "wecom-sync-daily": {
        "task": "groups.tasks.wecom_sync_task",
        "schedule": crontab(hour=env_int("QUNGUI_WECOM_SYNC_HOUR", 6), minute=0),
    },
    "reconcile-groups-daily": {
        "task": "groups.tasks.reconcile_groups_task",
        "schedule": crontab(hour=env_int("QUNGUI_RECONCILE_HOUR", 6), minute=30),
    },
    "escalate-overdue-findings": {
        "task": "groups.tasks.escalate_overdue_task",
        "schedule": crontab(minute="*/30"),
    },
    "findings-digest-daily": {
        "task": "portal.tasks.findings_digest_task",
        "schedule": crontab(hour=8, minute=45),
    },
    # Tasks recorded while the broker was down (portal.outbox) are sent once it is back.
    "flush-pending-tasks": {
        "task": "portal.tasks.flush_pending_tasks_task",
        "schedule": 60.0,
    },
    # People are told (violations.notices): appeal deadlines two working days ahead, at-risk employees.
    "appeal-deadline-reminders-daily": {
        "task": "violations.tasks.appeal_deadline_reminders_task",
        "schedule": crontab(hour=9, minute=0),
    },
    "at-risk-notices-daily": {
        "task": "violations.tasks.at_risk_notices_task",
        "schedule": crontab(hour=9, minute=15),
    },
    "resend-pending-notifications": {
        "task": "portal.tasks.resend_pending_notifications_task",
        "schedule": crontab(minute="*/15"),
    },
    # Monthly performance-score deductions: on the 1st at 02:00 compute the month that just ended;
    # HR reviews it and closes it in the admin.
    "compute-deductions-previous-month": {
        "task": "violations.tasks.compute_previous_month_task",
        "schedule": crontab(day_of_month=1, hour=2, minute=0),
    },
    # Finished report files are deleted once their download time is over.
    "expire-exports-hourly": {
        "task": "violations.tasks.expire_exports_task",
        "schedule": 3600.0,
    },
    # Roster uploads nobody finished (or that failed) are deleted: personal data is not left on disk.
    "expire-imports-hourly": {
        "task": "groups.tasks.expire_imports_task",
        "schedule": 3600.0,
    },
    # Chat imports whose worker died are taken up again; unconfirmed chat uploads are deleted.
    "recover-chat-imports": {
        "task": "groups.tasks.recover_chat_imports_task",
        "schedule": 300.0,
    },
    # Chat message bodies past the HR-set retention are purged (the rows stay), nightly.
    "purge-chat-bodies-daily": {
        "task": "groups.tasks.purge_chat_bodies_task",
        "schedule": crontab(hour=3, minute=45),
    },
    # Chat detection over the messages imported since the last nightly pass (after imports it runs
    # at once; this catches what those runs missed), before the bodies are purged at 03:45.
    "detect-chat-nightly": {
        "task": "violations.tasks.detect_new_messages_task",
        "schedule": crontab(hour=1, minute=30),
    },
    # PIPL retention: nightly, outside working hours.
    "portal.anonymize_departed": {
        "task": "portal.anonymize_departed",
        "schedule": crontab(hour=3, minute=30),
    },
    # Dashboard rollups, rebuilt in full (the ladder window slides; bulk writes send no signals).
    "refresh-dashboard-rollups": {
        "task": "portal.rollups.refresh_rollups_task",
        "schedule": crontab(hour=2, minute=15),
    },
}
# Job locks on SQLite are flock()ed files here (on PostgreSQL they are advisory locks): portal.locks.
QUNGUI_LOCK_DIR = Path(env("QUNGUI_LOCK_DIR", str(VAR_DIR / "locks")))
# Eager tasks deferred past a response (portal.outbox.send_after_response) run in a background
# thread; True runs them at request_finished in the request's thread (the tests).
QUNGUI_AFTER_RESPONSE_INLINE = False
# Reconciliation: incremental every day (only groups marked changed), a full rescan on this weekday
# (0 = Monday … 6 = Sunday; -1: never). `manage.py reconcile_groups --full` at any time.
RECONCILE_FULL_WEEKDAY = env_int("RECONCILE_FULL_WEEKDAY", 6)
# A departed member still in a group this many hours after first seen is escalated to the head.


def cache_config(redis_url: str) -> dict:
    """The default cache on Redis, degrading to per-process memory while Redis is down, so that
    throttling and caching never turn an outage into 500s (portal.cache); local memory without Redis."""
    if redis_url:
        return {"default": {"BACKEND": "portal.cache.FallbackRedisCache", "LOCATION": redis_url}}
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


CACHES = cache_config(REDIS_URL)

# --- REST framework ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first: an unauthenticated API call answers 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "groups.api.authentication.EmployedTokenAuthentication",  # DRF's, refusing departed employees
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["portal.api.permissions.HRWritesOthersRead"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "portal.api.search.IndexedSearchFilter",  # SearchFilter over indexed id sets (#14)
    ],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.QunguiAutoSchema",
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", "60/min"),
        "user": env("API_THROTTLE_USER", "1200/min"),
        "login": env("API_THROTTLE_LOGIN", "10/min"),  # per client IP; axes also locks per username
    },
    # Throttles key on the client IP: behind a proxy, count the proxies (as axes does).
    # 0: REMOTE_ADDR (None would make DRF trust whatever X-Forwarded-For the client sends).
    "NUM_PROXIES": PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Qungui API",
    "DESCRIPTION": (
        "群规 — work-group rule enforcement. Authenticate with `Authorization: Token <token>` "
        "(POST /api/v1/auth/token/) or a portal session. Every list and detail is limited to what the "
        "user may see; writes are for HR admins. Errors: "
        '`{"error": {"code": ..., "message": ..., "fields": {...}}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs pages describe every endpoint and field: signed-in users only
    # (portal/api/urls.py sends browsers without a session to the login page).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,  # read-only fields stay out of request bodies
    "ENUM_NAME_OVERRIDES": {
        "EmployeeStatusEnum": "groups.choices.EmployeeStatus",
        "GroupStatusEnum": "groups.choices.GroupStatus",
        "GroupKindEnum": "groups.choices.GroupKind",
        "FindingKindEnum": "groups.choices.FindingKind",
        "FindingStatusEnum": "groups.choices.FindingStatus",
        "ImportKindEnum": "groups.choices.ImportKind",
        "ImportStatusEnum": "groups.choices.ImportStatus",
        "PlatformEnum": "groups.choices.Platform",
        "MessageKindEnum": "groups.choices.MessageKind",
        "ChatFormatEnum": "groups.choices.CHAT_FORMAT_CHOICES",
        "ViolationStatusEnum": "violations.choices.ViolationStatus",
        "AppealStatusEnum": "violations.choices.AppealStatus",
        "SanctionKindEnum": "violations.choices.SanctionKind",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- django-import-export ---------------------------------------------------------------------
# Only users with these permissions may import/export through the admin (DIE #820).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_EXPORT_USE_TRANSACTIONS = True

# --- Audit trail ------------------------------------------------------------------------------
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False
# Every audit row's correlation id is the request id (or Celery task id) that the logs carry.
AUDITLOG_CID_GETTER = "portal.logging.current_correlation_id"

# --- Mail and notifications -------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds a hanging mail server may hold one send: notices go out in batches of 50 on one SMTP
# connection, and without a timeout one stuck send held the whole batch until its time limit.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "qungui@localhost")
# WeCom application messages (企业微信应用消息, portal.wecom): all three set, or the channel is not used
# (email only, logged once per process). The secret is the application's own (应用管理 → Secret).
WECOM_CORP_ID = env("WECOM_CORP_ID")
WECOM_AGENT_ID = env("WECOM_AGENT_ID")
WECOM_APP_SECRET = env("WECOM_APP_SECRET")
WECOM_API_BASE = env("WECOM_API_BASE", "https://qyapi.weixin.qq.com/cgi-bin")
WECOM_TOKEN_MARGIN_SECONDS = env_int("WECOM_TOKEN_MARGIN_SECONDS", 300)  # refresh this long before expiry
# WeCom sync (groups/wecom_sync, docs/wecom-sync.md): the 客户联系 secret (customer groups), the 通讯录
# secret (departments and members; else the contact secret is used), the 会话存档 secret
# (msgaudit/groupchat/get), and the directory where the company's archive SDK runner writes the
# decrypted chat records (JSON Lines with each record's seq). Empty contact secret: no sync.
WECOM_CONTACT_SECRET = env("WECOM_CONTACT_SECRET")
WECOM_DIRECTORY_SECRET = env("WECOM_DIRECTORY_SECRET")
WECOM_ARCHIVE_SECRET = env("WECOM_ARCHIVE_SECRET")
WECOM_ARCHIVE_DIR = env("WECOM_ARCHIVE_DIR")
# The server API client (portal.wecom.WeComClient, docs/wecom.md "Server API").
WECOM_HTTP_TIMEOUT = env_int("WECOM_HTTP_TIMEOUT", 10)  # seconds per request
WECOM_HTTP_RETRIES = env_int("WECOM_HTTP_RETRIES", 2)  # network error / 5xx / -1 busy
WECOM_RATE_LIMIT_RETRIES = env_int("WECOM_RATE_LIMIT_RETRIES", 5)  # 45009 / 45033 / 429, then "resume later"
WECOM_BACKOFF_SECONDS = env_int("WECOM_BACKOFF_SECONDS", 2)  # first back-off; doubles, with jitter
WECOM_BACKOFF_CAP_SECONDS = env_int("WECOM_BACKOFF_CAP_SECONDS", 60)
# Key of the WeCom connection's stored secrets (Fernet). Empty: derived from SECRET_KEY. Several keys,
# comma-separated: the first encrypts, all decrypt (rotation: docs/wecom.md).
WECOM_SECRET_KEY = env("WECOM_SECRET_KEY")
# The portal's address as employees reach it: the text card's 详情 link (e.g. https://qungui.example.com).
PORTAL_BASE_URL = env("PORTAL_BASE_URL").rstrip("/")

# --- Security (production) --------------------------------------------------------------------
# `DEBUG=0 ... manage.py check --deploy` passes with no warning. Silenced on purpose: security.W021
# unless HSTS preload is opted in (below). A TLS-terminating proxy
# (nginx in docker-compose.yml, or the company's load balancer) sets X-Forwarded-Proto and must
# overwrite any value sent by the client.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Probes come over plain HTTP from inside the cluster: never redirect them (portal/health.py also
# answers them before SecurityMiddleware runs; this is a second line of defence).
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # security.W021: browsers' preload list takes registrable domains only (example.com, not
        # qungui.example.com) and binds every subdomain of the company to HTTPS for years; that is
        # the company's IT decision, not this app's. Opt in with SECURE_HSTS_PRELOAD=1.
        SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "security.W021"]

# Content Security Policy (django-csp 4). No inline <script> anywhere: our templates load only files
# from /static/, and the Django admin (5.2) keeps its JavaScript in files too; its data blocks are
# <script type="application/json">/data-* attributes, which CSP does not execute. Inline *styles*
# that third-party templates still carry are allowed by hash, each named below; portal/tests/
# test_security.py renders those pages and fails when an inline script or an unlisted inline style
# appears. Pages of our own that ever need an inline script use nonce="{{ request.csp_nonce }}".
CSP_INLINE_STYLE_HASHES = [
    # admin/change_list.html: <style> emitted when a ModelAdmin has no actions
    "'sha256-blvLUW3UscWqsXGByNOqdBboM+ShWAuugp2mC/wbafU='",
    # auditlog/object_history.html (django-auditlog 3.4): the history page's <style> block
    "'sha256-/VQxijKy1wdfWpWh+FZDWqUYEjL15jz3jeTJ0qeZw0Q='",
    # import_export/export.html (4.4): style="padding: 0;" and style="font-weight: bold;" attributes;
    # attribute hashes need 'unsafe-hashes', which allows nothing but these exact two strings.
    "'sha256-mHgUAqxc8GPXM/QhzkHrHujcrQTU9fd6ZjWz+icxKcA='",
    "'sha256-+YWRMZ88jMyO7jVlBA52tZADiPobPIUA8LAWee68Fvs='",
]
# import_export/export.html (4.4) binds its "select all" checkbox with onchange="onSelectToggleChange(event)"
# (the function is in its static export_selectable_fields.js). With 'unsafe-hashes' this one exact
# handler may run; any other inline handler, inline <script> or javascript: URL is still refused.
CSP_INLINE_HANDLER_HASHES = ["'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # A nonce is added to the header only on pages that use one.
        "script-src": ["'self'", "'unsafe-hashes'", *CSP_INLINE_HANDLER_HASHES, NONCE],
        "style-src": ["'self'", "'unsafe-hashes'", *CSP_INLINE_STYLE_HASHES],
        "img-src": ["'self'", "data:"],  # data: for the admin's inline SVG widgets
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **({} if DEBUG else {"upgrade-insecure-requests": True}),
    },
}

# Upload limits: request bodies other than files are small; files spool to disk above 2 MB and are
# capped per kind (ROSTER_UPLOAD_MAX_BYTES, EVIDENCE_UPLOAD_MAX_BYTES above) by the upload forms.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
DATA_UPLOAD_MAX_NUMBER_FILES = 20

# --- Logging ----------------------------------------------------------------------------------
# One JSON object per line in production (LOG_FORMAT=json, the default when DEBUG is off), each
# carrying the request id (portal.middleware) or the Celery task id and name (portal.celery).
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG else "json")
LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "portal.logging.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s%(task_id)s] %(message)s"},
        "json": {"()": "portal.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # portal.middleware logs every request once, with its id, status and duration.
        "django.server": {"level": "WARNING"},
    },
}

# --- Qungui -----------------------------------------------------------------------------------
QUNGUI_COMPANY_NAME = env("QUNGUI_COMPANY_NAME", "示例科技有限公司")
# Role names (django.contrib.auth groups) that see the whole company.
ROLE_HR_ADMIN = "HR管理员"
ROLE_AUDITOR = "审计"
# PIPL: departed employees' personal fields are anonymised this many days after departure.
QUNGUI_RETENTION_DAYS = env_int("QUNGUI_RETENTION_DAYS", 3 * 365)

# --- Report exports ---------------------------------------------------------------------------
# A finished export file stays downloadable this long; the cleanup task deletes it afterwards.
QUNGUI_EXPORT_KEEP_HOURS = env_int("QUNGUI_EXPORT_KEEP_HOURS", 24)
# A running export whose progress has not moved for this long is taken over by the next delivery.
QUNGUI_EXPORT_STALE_SECONDS = env_int("QUNGUI_EXPORT_STALE_SECONDS", 300)
# The admin's "export selected as XLSX" keeps the selected ids in the job; above this, use the report page.
QUNGUI_EXPORT_ADMIN_MAX_IDS = env_int("QUNGUI_EXPORT_ADMIN_MAX_IDS", 20000)
