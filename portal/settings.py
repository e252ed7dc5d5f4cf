"""Runway's settings. Every value that differs between machines comes from the environment.

The README lists each variable. With DEBUG off (the default) Runway runs in production mode:
SECRET_KEY and ALLOWED_HOSTS are required and HTTPS hardening is on unless switched off.
"""

from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal import queues
from portal.env import (
    env_bool,
    env_cache,
    env_database,
    env_email,
    env_int,
    env_keyring,
    env_list,
    env_str,
    env_time_zone,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("RUNWAY_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

_DEV_SECRET_KEY = "django-insecure-runway-development-only-never-in-production"
SECRET_KEY = env_str("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set (or SECRET_KEY_FILE) when DEBUG is off: 50+ random characters"
    )
if not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured("SECRET_KEY is too weak for production: use 50+ random characters")

# Encrypts the secrets Runway must read back (webhook secrets): one key, or several
# comma-separated to re-key (the first encrypts, all decrypt). Required in production mode;
# development (DEBUG on) derives a development-only key from SECRET_KEY.
RUNWAY_ENCRYPTION_KEY = env_str("RUNWAY_ENCRYPTION_KEY") or (
    f"development-only:{SECRET_KEY}" if DEBUG else None
)
if not RUNWAY_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "RUNWAY_ENCRYPTION_KEY must be set (or RUNWAY_ENCRYPTION_KEY_FILE) when DEBUG is off: "
        "32+ random characters; it encrypts webhook secrets"
    )
if not DEBUG and any(len(k.strip()) < 32 for k in RUNWAY_ENCRYPTION_KEY.split(",") if k.strip()):
    raise ImproperlyConfigured("RUNWAY_ENCRYPTION_KEY is too weak: use 32+ random characters")

# Seals the audit log (apps/audit/chain.py): `id:secret` pairs, newest first; the first seals new
# events, the others still verify what they sealed. Required in production mode; development
# derives one from SECRET_KEY.
AUDIT_KEY_ID, AUDIT_KEYS = env_keyring(
    "RUNWAY_AUDIT_KEY",
    min_length=32,
    default=f"dev:development-only-audit-key:{SECRET_KEY}" if DEBUG else None,
)
# Signed checkpoints of the chain's head, appended to a file the database cannot reach; put it
# on storage the database's users cannot write (another volume, a write-once bucket's mount).
AUDIT_CHECKPOINT_FILE = Path(
    env_str("RUNWAY_AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit" / "checkpoints.jsonl"))
)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name this site's host names (comma-separated)")
# Content-Security-Policy (django-csp): scripts, styles, fonts and connections from Runway only,
# no inline script and no eval. Style attributes stay allowed for the values only known when a
# page is drawn (a calendar band's position, a chart swatch's colour); `<style>` elements do not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
    }
}
# Browser features Runway never uses, switched off for its pages.
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)

# The largest request body accepted (portal/body_limit.py refuses more with a 413 before reading
# it); the Backstage import takes 5 MB of YAML, which JSON may escape to nearly twice that.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 16 * 1024 * 1024, minimum=1024)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS: {_origin!r} needs a scheme (https://…)")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.mfa",
    "apps.core",
    "apps.accounts",
    "apps.audit",
    "apps.catalog",
    "apps.onboarding",
    "apps.supplychain",
    "apps.releases",
    "apps.trains",
    "apps.rollouts",
    "apps.insights",
    "apps.demo",
]

MIDDLEWARE = [
    # Request latency per view, for /metrics (apps/core/metrics.py); first and last, to time it all.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "apps.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "apps.core.middleware.RejectNulBytesMiddleware",
    "apps.accounts.mfa.RequireSecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "apps.core.middleware.HtmxLoginRedirectMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "apps.core.middleware.HtmxToastMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.context_processors.portal",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------------

DATABASES = {
    "default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'runway.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves web and workers at once: WAL and immediate write locks keep
    # them from tripping over each other.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A pool of open connections per process (psycopg_pool): a request then borrows one
    # instead of opening its own, a few milliseconds each. Not with persistent connections.
    DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0)
    if DATABASE_POOL_SIZE:
        if DATABASES["default"]["CONN_MAX_AGE"]:
            raise ImproperlyConfigured(
                "DATABASE_POOL_SIZE and DATABASE_CONN_MAX_AGE exclude each other: set one."
            )
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": 10,
        }
# How many threads a report page reads its independent figures on, each with a connection of its
# own (apps/core/parallel.py); 1 reads them one after another.
PARALLEL_READS = env_int("PARALLEL_READS", 3, minimum=1, maximum=8)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env_cache("CACHE_URL", "locmemcache://runway")}

# --- Accounts ---------------------------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "apps.accounts.backends.ModelBackend",
    "apps.accounts.backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "apps.accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "apps.accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_ALLOW_SIGNUP = env_bool("ACCOUNT_ALLOW_SIGNUP", False)
ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "none")
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = env_int("ACCOUNT_REAUTHENTICATION_TIMEOUT", 300, minimum=30)
# Failed sign-ins: per address, and per account and address ("key", apps/accounts/adapters.py)
# with a longer second window, so guessing slows down further the longer it goes on; the right
# password of an account with an authenticator app still reaches its second step. All sign-in
# posts from one address: a flood guard only, high enough that people sharing an address with
# someone guessing still get in (counters live in the cache).
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key,20/h/key"),
    "login": env_str("LOGIN_RATE_LIMIT", "300/m/ip"),
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
# Roles that must set up an authenticator app before anything else (apps/accounts/mfa.py); by
# default the approvers and administrators, outside development.
MFA_REQUIRED_ROLES = env_list(
    "MFA_REQUIRED_ROLES", [] if DEBUG else ["release_manager", "platform_admin"]
)
_ROLES = {"developer", "release_manager", "leadership", "platform_admin"}
if set(MFA_REQUIRED_ROLES) - _ROLES:
    raise ImproperlyConfigured(f"MFA_REQUIRED_ROLES names roles that do not exist; use {_ROLES}")
MFA_TOTP_ISSUER = "Runway"

# Single sign-on providers are switched on by giving their client credentials. A verified
# e-mail from the provider signs in the local account with that address. New accounts from
# single sign-on are limited to SSO_ALLOWED_EMAIL_DOMAINS when it is set.
SOCIALACCOUNT_PROVIDERS: dict = {}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SSO_ALLOWED_EMAIL_DOMAINS = [d.lower() for d in env_list("SSO_ALLOWED_EMAIL_DOMAINS")]
if env_str("OIDC_CLIENT_ID"):
    INSTALLED_APPS.append("allauth.socialaccount.providers.openid_connect")
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "APPS": [
            {
                "provider_id": "oidc",
                "name": env_str("OIDC_NAME", "Single sign-on"),
                "client_id": env_str("OIDC_CLIENT_ID"),
                "secret": env_str("OIDC_CLIENT_SECRET", ""),
                "settings": {"server_url": env_str("OIDC_SERVER_URL", "")},
            }
        ]
    }
    if not SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]["settings"]["server_url"]:
        raise ImproperlyConfigured("OIDC_SERVER_URL must be set when OIDC_CLIENT_ID is")
if env_str("GITHUB_CLIENT_ID"):
    INSTALLED_APPS.append("allauth.socialaccount.providers.github")
    SOCIALACCOUNT_PROVIDERS["github"] = {
        "APPS": [
            {
                "client_id": env_str("GITHUB_CLIENT_ID"),
                "secret": env_str("GITHUB_CLIENT_SECRET", ""),
            }
        ],
        "SCOPE": ["read:user", "user:email"],
    }
if env_str("GITLAB_CLIENT_ID"):
    INSTALLED_APPS.append("allauth.socialaccount.providers.gitlab")
    SOCIALACCOUNT_PROVIDERS["gitlab"] = {
        "APPS": [
            {
                "client_id": env_str("GITLAB_CLIENT_ID"),
                "secret": env_str("GITLAB_CLIENT_SECRET", ""),
                "settings": {"gitlab_url": env_str("GITLAB_URL", "https://gitlab.com")},
            }
        ]
    }

# --- HTTP hardening (on by default in production mode) ----------------------------------------

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# Load balancers probe, and Prometheus scrapes (with its token), over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12, minimum=60)
X_FRAME_OPTIONS = "DENY"
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalisation, static files, e-mail -----------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_time_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Production serves the collected, hashed files (collectstatic at build time); development and
# tests serve straight from the source folders.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
WHITENOISE_AUTOREFRESH = DEBUG

globals().update(env_email("EMAIL_URL", "consolemail://"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Runway <runway@localhost>")
# Unset, it is where `make run` serves: the Procfile's web process listens on PORT. (honcho
# gives every process a PORT of its own, so `make run` sets this for all of them.)
RUNWAY_BASE_URL = env_str("RUNWAY_BASE_URL", f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}")
RELEASE_WEBHOOK_URL = env_str("RELEASE_WEBHOOK_URL", "")  # Slack-compatible incoming webhook
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API --------------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "apps.core.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Runway API",
    "DESCRIPTION": "Service catalog, releases, rollouts and delivery reports. "
    "Authenticate with a session or a personal API token: `Authorization: Bearer <token>`.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Choice sets that share a field name with another get a name of their own.
    "ENUM_NAME_OVERRIDES": {
        "StateEnum": "apps.releases.models.ReleaseState",
        "RuleStateEnum": "apps.releases.calendar.transitions.RuleState",
        "TrainStateEnum": "apps.trains.models.TrainState",
        "EnvironmentKindEnum": "apps.catalog.models.EnvironmentKind",
        "AttestationKindEnum": "apps.supplychain.models.Attestation.Kind",
    },
}

# --- Background work --------------------------------------------------------------------------

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's file-system transport: a real broker with no server, for the embedded default.
    _broker_dir = VAR_DIR / "celery" / "broker"
    for _folder in (_broker_dir, *(VAR_DIR / "celery" / n for n in ("processed", "control"))):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
else:
    # A task not acknowledged within this time is handed to another worker; it must outlast the
    # longest countdown a task is scheduled with.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker waits out a broker outage of any length (Celery's default gives up after 100 tries).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "runway")
# A queue per kind of work (portal/queues.py); a worker without -Q consumes them all.
CELERY_TASK_QUEUES = queues.task_queues(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_ROUTES = queues.task_routes(CELERY_TASK_DEFAULT_QUEUE)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True  # tasks record their outcome in the database
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Reconnects to a broker that is back within 3 s, not up to 30 s (portal/celery.py).
CELERY_WORKER_CONSUMER = "portal.celery:Consumer"
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE
# Each periodic task once per period, even with two beats running (apps/core/beat.py).
CELERY_BEAT_SCHEDULER = "apps.core.beat:ClaimingScheduler"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "core.heartbeat", "schedule": 30.0},
    # Tasks the broker missed while it was down (apps/core/outbox.py); a round not run within
    # 10 s is dropped, the next one does the same work.
    "outbox-flush": {"task": "core.outbox_flush", "schedule": 10.0, "options": {"expires": 10}},
    "idempotency-keys-forget": {"task": "core.idempotency_keys_forget", "schedule": 60 * 60.0},
    "start-due-releases": {"task": "releases.start_due", "schedule": 60.0},
    # Runway's own promotions from auto-promoting environments (apps/releases/autopromotion.py).
    "auto-promote-releases": {
        "task": "releases.auto_promote",
        "schedule": 60.0,
        "options": {"expires": 60},
    },
    "audit-seal": {"task": "audit.seal", "schedule": 60.0, "options": {"expires": 60}},
    "audit-checkpoint": {"task": "audit.checkpoint", "schedule": 10 * 60.0},
    "dispatch-rollouts": {"task": "rollouts.dispatch", "schedule": 15.0},
    "reconcile-rollouts": {"task": "rollouts.reconcile", "schedule": 30.0},
    # Trains that are due, and trains whose step was lost (apps/rollouts/trains.py).
    "reconcile-trains": {
        "task": "rollouts.trains_reconcile",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # Repairs the roll-up of recent days (records refresh their own day as they arrive).
    "insights-refresh-rollups": {"task": "insights.refresh_rollups", "schedule": 15 * 60.0},
    # Finished releases whose recording task was lost (apps/insights/services/runway.py).
    "insights-record-missed-deployments": {
        "task": "insights.record_missed_deployments",
        "schedule": 10 * 60.0,
    },
    "insights-refresh-scorecards": {"task": "insights.refresh_scorecards", "schedule": 60 * 60.0},
    # The week's scorecards, for trends; taking them again the same week replaces them.
    "insights-snapshot-scorecards": {
        "task": "insights.snapshot_scorecards",
        "schedule": crontab(minute=30, hour=2, day_of_week="mon"),
    },
}

# --- Kubernetes and live updates --------------------------------------------------------------

# The kubeconfig the executor uses for clusters that do not name their own: a real cluster's, or
# the one the cluster simulator writes (`make run` points here).
KUBECONFIG = env_str("KUBECONFIG", str(VAR_DIR / "kubeconfig-simulator.yaml"))
KUBE_REQUEST_TIMEOUT = env_int("KUBE_REQUEST_TIMEOUT", 10, minimum=1)
SIMULATOR_PORT = env_int("SIMULATOR_PORT", 8701, minimum=1)
# How long a rollout's wait step (pods of the new version becoming ready, a rollback taking
# effect) may take before Runway fails it and rolls back; also the Deployments'
# progressDeadlineSeconds. A service may set its own (strategy_params.progress_deadline_seconds).
ROLLOUT_PROGRESS_DEADLINE_SECONDS = env_int("ROLLOUT_PROGRESS_DEADLINE_SECONDS", 600, minimum=1)
# How often a rollout's wait step asks the cluster how its change is going: each ask is a
# Kubernetes read and a step of the executor's; a quick cluster (the simulator) needs less.
ROLLOUT_POLL_MILLISECONDS = env_int("ROLLOUT_POLL_MILLISECONDS", 1000, minimum=50, maximum=60000)
# A pod of the new version restarting this often is crash-looping: the rollout fails at once.
ROLLOUT_RESTART_LIMIT = env_int("ROLLOUT_RESTART_LIMIT", 3, minimum=1)
# The longest a task waits in the broker: a longer wait (a 2-hour pause) is a chain of hops this
# long, each checking the due time kept on the rollout. It must stay well under the broker's
# redelivery limit (Redis's visibility timeout, RabbitMQ's consumer_timeout).
ROLLOUT_MAX_COUNTDOWN_SECONDS = env_int("ROLLOUT_MAX_COUNTDOWN_SECONDS", 60, minimum=1, maximum=300)
# For drills only: a file holding seconds to add to Runway's clock in every process that reads
# it, so long waits are tested by moving time rather than by waiting (apps/core/clock.py).
RUNWAY_CLOCK_OFFSET_FILE = env_str("RUNWAY_CLOCK_OFFSET_FILE", "")

# --- Metrics (apps/core/metrics.py) -------------------------------------------------------------

# /metrics answers a scraper that sends `Authorization: Bearer <METRICS_TOKEN>`; unset, it is off.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# A worker serves its own metrics (task durations) on this port; 0 serves none.
WORKER_METRICS_PORT = env_int("WORKER_METRICS_PORT", 0, maximum=65535)
# Live status in the browser: Redis pub/sub says "re-fetch"; without Redis the stream polls.
LIVE_UPDATES_REDIS_URL = env_str(
    "LIVE_UPDATES_REDIS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)

# --- Logging ----------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "apps.core.request_context.RequestIdLogFilter"},
        "refusals_in_one_line": {"()": "apps.core.request_context.RefusalsInOneLine"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "refusals_in_one_line"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
