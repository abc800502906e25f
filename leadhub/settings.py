"""LeadHub settings, read from the environment (django-environ).

Every setting an operator may change is an environment variable; the README's
"Configuration" table lists them. Without any variable set, LeadHub runs the
embedded default: SQLite under var/, django-q2 on its ORM broker, e-mail to the
console. Production sets DEBUG=0 and the variables that `manage.py check --deploy`
asks for.
"""
from __future__ import annotations

import secrets
import sys
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet

# Plain data (no Django import): the vendor apps to install.
from apps.vendors.core.registry import VENDOR_APPS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file beside manage.py is read if present (never committed); real
# environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("LEADHUB_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _generated_secret(name: str, make) -> str:
    """Return the secret stored in var/NAME, creating it (mode 0600) on first use.

    Lets `make run` work on a fresh clone without anyone choosing a key, while no
    key is ever committed. Production sets the variable instead.
    """
    path = VAR_DIR / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text().strip()


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="") or _generated_secret(
    "secret_key", lambda: secrets.token_urlsafe(64)
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Vendor credentials are encrypted at rest with their own key (Fernet), so that
# rotating SECRET_KEY never makes stored credentials unreadable. Several
# comma-separated keys allow rotation: the first encrypts, all decrypt.
CREDENTIALS_KEYS = env.list("LEADHUB_CREDENTIALS_KEYS", default=[]) or [
    _generated_secret("credentials_key", lambda: Fernet.generate_key().decode())
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_countries",
    "import_export",
    "django_q",
    "axes",
    "simple_history",
    "apps.core",
    "apps.accounts",
    "apps.vendors.core",
    "apps.leads",
    "apps.sync",
    "apps.routing",
    "apps.reports",
    "apps.notifications",
    "apps.webhooks",
    # The REST API (docs/api.md): DRF, its OpenAPI schema and Swagger UI's files.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.api",
    # One app per vendor (apps/vendors/<kind>/), as the registry lists them.
    *VENDOR_APPS,
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app server itself (no separate web server needed);
    # hashed names, compressed, cached for a year (docs/deployment.md).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Who changed what (django-simple-history reads the user from the request).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Dealer staff land on "My leads" after logging in (apps/leads/landing.py).
    "apps.leads.landing.LandingMiddleware",
    # Login lockout: must come last (django-axes).
    "axes.middleware.AxesMiddleware",
    # A busy database is a 503 "try again" page; a tampered admin action a 400
    # (apps/core/middleware.py). Innermost, so they see the view's exceptions first.
    "apps.core.middleware.DatabaseBusyMiddleware",
    "apps.core.middleware.AdminActionGuardMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses a login while its client is locked out; must come first.
    "axes.backends.AxesStandaloneBackend",
    # Model permissions come from the user's dealer roles, not from per-user
    # permission rows: see apps/accounts/roles.py.
    "apps.accounts.backends.DealerRoleBackend",
]

ROOT_URLCONF = "leadhub.urls"
WSGI_APPLICATION = "leadhub.wsgi.application"
ASGI_APPLICATION = "leadhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.notifications.context.unread_notifications",  # the header's unread count
            ],
        },
    }
]

# --- Database -----------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadhub.sqlite3'}")
}


def _process_kind() -> str:
    """Return "web" for a process answering people (gunicorn through leadhub.wsgi/asgi,
    which set LEADHUB_PROCESS=web, or `manage.py runserver`), else "worker"
    (qcluster, every other command, scripts). LEADHUB_PROCESS overrides."""
    kind = env.str("LEADHUB_PROCESS", default="")
    if kind in ("web", "worker"):
        return kind
    return "web" if sys.argv[1:2] == ["runserver"] else "worker"


LEADHUB_PROCESS = _process_kind()
# How long one statement waits for a lock another connection holds before the
# database gives up ("busy"). Every LeadHub write transaction is short (a pull
# commits per page, imports per batch of 1,000 rows: 0.13-0.28 s measured), so a
# wait longer than a few seconds means something is wrong or very busy:
# - web: 5 s. A person then gets the 503 "LeadHub is busy, try again" page
#   (apps/core/middleware.py) rather than a spinner; well under gunicorn's and a
#   proxy's timeouts, and a request cannot tie up a web worker for long.
# - worker: 30 s. Nobody is watching; a job that waits out a long write loses
#   nothing, one that gives up is retried later, so waiting is cheaper.
LEADHUB_DB_LOCK_WAIT_SECONDS = (env.float("LEADHUB_DB_WAIT_WEB", default=5.0) if LEADHUB_PROCESS == "web"
                                else env.float("LEADHUB_DB_WAIT_WORKER", default=30.0))
# One value for every process (tests, one-off runs); wins over the two above.
LEADHUB_DB_LOCK_WAIT_SECONDS = env.float("LEADHUB_SQLITE_BUSY_TIMEOUT", default=LEADHUB_DB_LOCK_WAIT_SECONDS)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE transactions
    # and a busy timeout turn "database is locked" into a short wait. A vendor pull
    # writes tens of MB: checkpoints every ~40 MB of WAL instead of 4 MB.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                            "PRAGMA wal_autocheckpoint=10000;",
            "transaction_mode": "IMMEDIATE",
            # SQLite's busy timeout: how long a writer waits for another's lock.
            "timeout": LEADHUB_DB_LOCK_WAIT_SECONDS,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and not env.bool("DATABASE_JIT", default=False):
        # PostgreSQL compiles a query to machine code (JIT) when its planner's cost
        # passes jit_above_cost, which every query over millions of leads does; the
        # compiling took 1.24 s of a 1.56 s report query (bench/README.md, issue 18)
        # and gains nothing on LeadHub's queries. DATABASE_JIT=1 keeps the server's.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options['options']} -c jit=off" if options.get("options") else "-c jit=off"
    if LEADHUB_PROCESS == "web" and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # PostgreSQL waits for a row or table lock without limit by default: a
        # page would hang behind a stuck transaction. lock_timeout makes it fail
        # (SQLSTATE 55P03) into the busy page. Workers keep PostgreSQL's default:
        # their transactions are short and Q_TIMEOUT bounds a task.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        lock_timeout = f"-c lock_timeout={int(LEADHUB_DB_LOCK_WAIT_SECONDS * 1000)}"
        options["options"] = f"{options['options']} {lock_timeout}" if options.get("options") else lock_timeout
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# models.W040: "SQLite does not support indexes with non-key columns". The reports'
# covering index (Lead.Meta, lead_report_idx) is PostgreSQL's; SQLite builds its key
# column alone, which is what it should do.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

# --- I18N / time ------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # `manage.py collectstatic` writes hashed, compressed copies to STATIC_ROOT; the
    # web process serves them (whitenoise) with far-future cache headers.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Before the first collectstatic (make run, tests) the unhashed names are served.
WHITENOISE_MANIFEST_STRICT = False

# --- E-mail (alerts, digests) ---------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="leadhub@localhost")
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
ADMINS = [("LeadHub admins", a) for a in env.list("ADMIN_EMAILS", default=[])]

# --- Security: secure by default unless DEBUG; each can be overridden -------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# Load balancers probe over plain HTTP inside the network (docs/deployment.md).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    # Only behind a proxy that sets the header itself (see docs/deployment.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Error e-mails and tracebacks: also hide variables and POST fields named like
# credentials, and bearer/basic authorisation values (apps/core/reporting.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "apps.core.reporting.LeadHubExceptionReporterFilter"

# Content-Security-Policy on every response (django-csp): only LeadHub's own
# scripts, styles and images; no inline script anywhere (the lead screens load
# static/leadhub/*.js and read their data from json_script blocks).
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Login lockout (django-axes): LEADHUB_LOGIN_FAILURE_LIMIT failed logins from one
# client for one user name lock that pair out for LEADHUB_LOGIN_COOLOFF_MINUTES.
# The client address comes from apps/core/client_ip.py: REMOTE_ADDR, or behind
# LEADHUB_TRUSTED_PROXIES proxies the address the outermost trusted proxy saw.
# Imports (lead and outcome CSV, admin and commands): the most rows one file
# may hold, and the largest cell (apps/core/csvread.py refuses more, naming the line).
LEADHUB_IMPORT_MAX_ROWS = env.int("LEADHUB_IMPORT_MAX_ROWS", default=100_000)
LEADHUB_IMPORT_MAX_CELL_CHARS = env.int("LEADHUB_IMPORT_MAX_CELL_CHARS", default=10_000)
# Rows written per transaction by the lead import: short enough that no write
# holds the database for more than a fraction of a second (bench/lead_import.py).
LEADHUB_IMPORT_BATCH_ROWS = env.int("LEADHUB_IMPORT_BATCH_ROWS", default=1000)
# The largest CSV file the admin's imports accept (bytes).
LEADHUB_IMPORT_MAX_UPLOAD_BYTES = env.int("LEADHUB_IMPORT_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Files up to this size are checked and imported in the request itself (about
# 1,000 rows, well under a second); larger ones by a background job.
LEADHUB_IMPORT_INLINE_BYTES = env.int("LEADHUB_IMPORT_INLINE_BYTES", default=256 * 1024)

AXES_FAILURE_LIMIT = env.int("LEADHUB_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LEADHUB_LOGIN_COOLOFF_MINUTES", default=15.0))
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "apps.core.client_ip.client_ip"
# Failures counted per user name ignoring case ("Alice" and "alice" share one count).
AXES_USERNAME_CALLABLE = "apps.accounts.lockout.lockout_username"
AXES_SENSITIVE_PARAMETERS = ["password"]
LEADHUB_TRUSTED_PROXIES = env.int("LEADHUB_TRUSTED_PROXIES", default=0)
LEADHUB_FORWARDED_FOR_HEADER = env.str("LEADHUB_FORWARDED_FOR_HEADER", default="X-Forwarded-For")

# --- django-q2 -------------------------------------------------------------------------
# The ORM broker (the default) needs nothing installed and delivers at least once;
# Redis is used when Q_REDIS_URL is set. Either way the outbox owns retries and every
# task is safe to run twice (docs/architecture.md).
Q_CLUSTER = {
    "name": "leadhub",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    # retry must exceed timeout, or a still-running task is handed out again.
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 1,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "save_limit": 500,
    "label": "Background jobs",
}
Q_REDIS_URL = env.str("Q_REDIS_URL", default="")
if Q_REDIS_URL:
    Q_CLUSTER["redis"] = Q_REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# --- Logging: never log credentials (vendor adapters log through apps.vendors.core.http,
# which redacts); plain lines to stderr, the process manager collects them. ---------------
# LOG_FORMAT=json writes one JSON object per line (python-json-logger) for a log
# collector. Either way every line of a sync run carries its account and run id
# (apps/core/runcontext.py: the filter reads them from the run's context).
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"sync_run": {"()": "apps.core.runcontext.SyncContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s%(sync)s %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(account)s %(vendor)s %(run_id)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "filters": ["sync_run"],
                            "formatter": "json" if LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"},
                # django-axes announces itself at INFO in every process; lockouts are WARNING.
                "axes": {"level": "WARNING"}},
}

# --- Audit history (django-simple-history) --------------------------------------------------
# History is a record, not an undo button: no "revert" in the admin.
SIMPLE_HISTORY_REVERT_DISABLED = True
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True

# --- django-import-export --------------------------------------------------------------------
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Importing needs the "add" permission of the model (staff may import leads);
# every import runs in one transaction: a file with an error imports nothing.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_USE_TRANSACTIONS = True

# --- LeadHub ---------------------------------------------------------------------------------
LEADHUB_DEMO_PASSWORD = env.str("LEADHUB_DEMO_PASSWORD", default="leadhub-demo")
# Links in e-mails (digests, alerts) point here.
LEADHUB_SITE_URL = env.str("LEADHUB_SITE_URL", default="http://127.0.0.1:8000")
# The daily follow-up digest goes out at this hour (server TIME_ZONE).
LEADHUB_DIGEST_HOUR = env.int("LEADHUB_DIGEST_HOUR", default=6)

# --- Vendor sync -------------------------------------------------------------------------------
LEADHUB_HTTP_CONNECT_TIMEOUT = env.float("LEADHUB_HTTP_CONNECT_TIMEOUT", default=5.0)
LEADHUB_HTTP_READ_TIMEOUT = env.float("LEADHUB_HTTP_READ_TIMEOUT", default=30.0)
# In-run retries of one vendor call (Cat: "at least 5 times before failing"), and the
# outbox's retries across runs: attempts before an alert, base and cap of the backoff.
LEADHUB_RETRY_ATTEMPTS = env.int("LEADHUB_RETRY_ATTEMPTS", default=5)
LEADHUB_RETRY_BASE_SECONDS = env.float("LEADHUB_RETRY_BASE_SECONDS", default=2.0)
LEADHUB_RETRY_MAX_SECONDS = env.float("LEADHUB_RETRY_MAX_SECONDS", default=60.0)
LEADHUB_OUTBOX_BASE_SECONDS = env.float("LEADHUB_OUTBOX_BASE_SECONDS", default=30.0)
LEADHUB_OUTBOX_MAX_SECONDS = env.float("LEADHUB_OUTBOX_MAX_SECONDS", default=3600.0)
LEADHUB_OUTBOX_BATCH = env.int("LEADHUB_OUTBOX_BATCH", default=50)
# Queue a push task as soon as a change commits (the scheduled tick is the safety net).
LEADHUB_PUSH_ON_COMMIT = env.bool("LEADHUB_PUSH_ON_COMMIT", default=True)
# Leases that make a dead worker's work come back (docs/deployment.md, "Restarts"):
# an account's pull/push lock, and an outbox item claimed for sending. Both must
# exceed the longest silence of a live worker (one vendor call with its retries).
LEADHUB_LOCK_LEASE_SECONDS = env.int("LEADHUB_LOCK_LEASE_SECONDS", default=600)
LEADHUB_OUTBOX_CLAIM_SECONDS = env.int("LEADHUB_OUTBOX_CLAIM_SECONDS", default=300)
# Health and metrics (apps/sync/ops.py): a pull is stale after this many intervals
# without success; /metrics answers only with this bearer token (off when empty).
LEADHUB_SYNC_STALE_FACTOR = env.float("LEADHUB_SYNC_STALE_FACTOR", default=3.0)
LEADHUB_METRICS_TOKEN = env.str("LEADHUB_METRICS_TOKEN", default="")
# Stored vendor pages and sent payloads are pruned after this many days by a daily
# job (apps/sync/retention.py); 0 keeps them forever. A page is never pruned while
# it is the only copy of a lead. Finished webhook deliveries are deleted after the
# same window by a daily job of their own (apps/webhooks/retention.py).
LEADHUB_RETENTION_DAYS = env.int("LEADHUB_RETENTION_DAYS", default=90)
# Days back that the daily historic reconciliation covers.
LEADHUB_HISTORIC_DAYS = env.int("LEADHUB_HISTORIC_DAYS", default=3)

# --- Webhooks (docs/webhooks.md) ------------------------------------------------------------------
# Attempts per delivery, the backoff between them (apps/core/backoff.py: base doubling
# up to the cap, with jitter), the read timeout of one POST, the lease of a claimed
# delivery, and how many deliveries in a row may fail for good before the endpoint
# is disabled (its dealer's admins are alerted).
LEADHUB_WEBHOOK_ATTEMPTS = env.int("LEADHUB_WEBHOOK_ATTEMPTS", default=12)
LEADHUB_WEBHOOK_BASE_SECONDS = env.float("LEADHUB_WEBHOOK_BASE_SECONDS", default=60.0)
LEADHUB_WEBHOOK_MAX_SECONDS = env.float("LEADHUB_WEBHOOK_MAX_SECONDS", default=4 * 3600.0)
# LEADHUB_WEBHOOK_TIMEOUT is the deadline of one whole POST (wall clock: connecting,
# sending and the whole answer; connecting alone gives up after
# LEADHUB_HTTP_CONNECT_TIMEOUT when that is shorter). The claim lease must exceed it by a
# margin, and a run stops starting POSTs after LEADHUB_WEBHOOK_RUN_SECONDS, well
# under Q_TIMEOUT (system checks leadhub.E003 and leadhub.E004).
LEADHUB_WEBHOOK_TIMEOUT = env.float("LEADHUB_WEBHOOK_TIMEOUT", default=10.0)
LEADHUB_WEBHOOK_CLAIM_SECONDS = env.int("LEADHUB_WEBHOOK_CLAIM_SECONDS", default=300)
# By default 120 s, or less where Q_TIMEOUT is short: a run, one more POST and 45 s to
# spare fit in Q_TIMEOUT (a worker given Q_TIMEOUT=120 still passes leadhub.E004).
LEADHUB_WEBHOOK_RUN_SECONDS = env.float("LEADHUB_WEBHOOK_RUN_SECONDS", default=max(10.0, min(
    120.0, Q_CLUSTER["timeout"] - LEADHUB_HTTP_CONNECT_TIMEOUT - LEADHUB_WEBHOOK_TIMEOUT - 45)))
# Endpoints on this machine's loopback (and then plain http://): for a receiver under
# development only. Off in production: a dealer admin must not make LeadHub call its
# own local services (docs/webhooks.md, "Decisions").
LEADHUB_WEBHOOK_ALLOW_LOOPBACK = env.bool("LEADHUB_WEBHOOK_ALLOW_LOOPBACK", default=DEBUG)
LEADHUB_WEBHOOK_BATCH = env.int("LEADHUB_WEBHOOK_BATCH", default=50)
LEADHUB_WEBHOOK_DISABLE_AFTER = env.int("LEADHUB_WEBHOOK_DISABLE_AFTER", default=5)
# After "Rotate secret" the old signing secret still signs every delivery (a second
# v1 in LeadHub-Signature) for this many hours, so a receiver keeps working while
# its configuration is updated; 0: the old secret stops at once.
LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS = env.float("LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS", default=24.0)

# --- REST API (apps/api, docs/api.md) ---------------------------------------------------
# The cache the API's rate limit counts in: the default (local memory) counts per
# process, so N web processes let a key make up to N times the rate; a shared cache
# (CACHE_URL=redis://host:6379/1) makes it one limit for the whole site.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
# Requests one API key may make, e.g. "600/minute" (DRF's rate format: N/second,
# minute, hour or day); past it, 429 with Retry-After.
LEADHUB_API_RATE = env.str("LEADHUB_API_RATE", default="600/minute")
# Requests without a valid key (none, unknown, revoked) one client address may make
# (apps/core/client_ip.py, as the login lockout), then 429: guessing keys is slow.
LEADHUB_API_ANON_RATE = env.str("LEADHUB_API_ANON_RATE", default="60/minute")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.permissions.HasApiKey", "apps.api.permissions.WriteScopeForWrites"],
    "DEFAULT_THROTTLE_CLASSES": ["apps.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LeadHub API",
    "DESCRIPTION": "Leads, their outcomes and follow-ups for a dealer's DMS and websites (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI from drf-spectacular-sidecar's copy under static/: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # An id in a path (apps/api/urls.py, IdConverter): a number.
    "PATH_CONVERTER_OVERRIDES": {"api_id": {"type": "integer", "format": "int64", "minimum": 0}},
    # One name per choice list, whichever serializer uses it.
    "ENUM_NAME_OVERRIDES": {"LeadStatusEnum": "apps.leads.statuses.Status",
                            "FollowUpKindEnum": "apps.leads.models.FollowUpKind",
                            "ReasonKindEnum": "apps.leads.statuses.ReasonKind"},
}
