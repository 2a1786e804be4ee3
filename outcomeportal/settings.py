"""OutcomePortal settings — all of them read from the environment, nowhere else.

See docs/configuration.md for every variable. With no ``DATABASE_URL`` the app starts
(or joins) an embedded PostgreSQL in ``.data/pg``; PostgreSQL is the only database.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from outcomeportal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("OUTCOMEPORTAL_DATA_DIR", str(BASE_DIR / ".data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    key = env_str("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the API docs work offline
    "django_filters",
    "django_htmx",
    "django_tables2",
    "template_partials",
    "django_q",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    # The product, left to right: data flows accounts → metering → billing → disputes.
    "accounts",
    "metering",
    "billing",
    "disputes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "outcomeportal.middleware.RejectNulCharactersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "outcomeportal.urls"
WSGI_APPLICATION = "outcomeportal.wsgi.application"

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
                "accounts.context_processors.portal",
            ],
        },
    },
]

# --- Database: PostgreSQL only -------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    from outcomeportal.embedded_db import embedded_database_url

    DATABASE_URL = embedded_database_url(DATA_DIR)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("CONN_MAX_AGE", 60))}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("OutcomePortal runs on PostgreSQL only; DATABASE_URL must be postgres://…")
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_outcomeportal")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True  # stored in UTC, always

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("STATIC_MANIFEST", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Security (production values come from the environment; see .env.production.example)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600)  # sessions expire after a working day
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", False)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "outcomeportal.views.csrf_failure"  # the portal's own 403 page, not Django's

# Content-Security-Policy (django-csp): everything from this origin, nothing inline. htmx,
# Plotly, Swagger UI and Redoc are served from the app's own static files; templates hold no
# inline script, event handler or style attribute (tests/test_csp.py scans them): data reaches
# scripts through json_script blocks and data- attributes, bar widths are SVG attributes.
# Plotly puts its rules into a stylesheet the dashboard links for it (static/css/plotly.css) and
# sets other styles from script (CSSOM), which CSP allows, so style-src needs no 'unsafe-inline';
# htmx runs with includeIndicatorStyles off (base.html) for the same reason. The one page that
# needs inline styles, Redoc, relaxes style-src for itself (outcomeportal/api/docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # the favicon and Swagger UI's icons are data: URIs
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# The client's address is REMOTE_ADDR, unless this many reverse proxies of yours stand in front:
# then it is the one the outermost of them saw (X-Forwarded-For, counted from the right).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

# --- Sign-in (accounts.login_guard, accounts.two_factor) ------------------------------
# Failed sign-ins allowed per window: for one username from one client address, and for one
# username from anywhere (a guesser spread over many addresses). Beyond, passwords are not checked.
LOGIN_FAILURES_PER_USER_ADDRESS = env_int("LOGIN_FAILURES_PER_USER_ADDRESS", 10)
LOGIN_FAILURES_PER_USER = env_int("LOGIN_FAILURES_PER_USER", 50)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
# Vendor staff sign in with a one-time code from an authenticator app (TOTP) as well as the
# password; customers may turn it on for themselves. `make demo` turns the requirement off.
OTP_REQUIRED_FOR_STAFF = env_bool("OTP_REQUIRED_FOR_STAFF", True)
OTP_TOTP_ISSUER = env_str("OTP_ISSUER", "OutcomePortal")

# --- Outgoing requests (webhooks; accounts.outbound) ------------------------------------
# Only https to public addresses. For development, http; for on-premises receivers, host
# names and networks (CIDR) that may be called whatever their address.
WEBHOOK_ALLOW_HTTP = env_bool("WEBHOOK_ALLOW_HTTP", False)
WEBHOOK_ALLOWED_HOSTS = env_list("WEBHOOK_ALLOWED_HOSTS", [])

# Bodies over 5 MB are refused with 413 (see outcomeportal.api.errors); Django's own
# limit is set just above so the API can answer with the contract's error body.
API_MAX_BODY_BYTES = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES + 1

# --- API ----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.IsAuthenticatedPrincipal"],
    # JSON only in production, so every 4xx is the contract's error body whatever the Accept
    # header; the browsable API is a development aid (the OpenAPI docs serve everyone).
    "DEFAULT_RENDERER_CLASSES": ["outcomeportal.api.renderers.ORJSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["outcomeportal.api.parsers.ORJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "outcomeportal.api.negotiation.JSONForBrowsers",
    "EXCEPTION_HANDLER": "outcomeportal.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "outcomeportal.api.schema.ApiAutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["accounts.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"principal": env_str("API_RATE_LIMIT", "6000/min")},
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": TRUSTED_PROXIES,  # the throttle's client address, as in accounts.client_address
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OutcomePortal API",
    "DESCRIPTION": "Outcome-based billing: ingest outcome events, read decisions, invoices and disputes. "
    "Authenticate with `Authorization: Bearer <key>`.",
    "VERSION": "1.0.0",
    # Swagger UI and Redoc from drf-spectacular-sidecar's static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": ["pending", "billable", "non_billable", "invoiced", "disputed", "credited"],
        "IngestStatusEnum": ["accepted", "duplicate", "conflict", "rejected"],
        "InvoiceStatusEnum": ["draft", "finalized", "void"],
        "DisputeStatusEnum": ["open", "approved", "partially_approved", "rejected"],
        "ComplexityEnum": ["complex", "moderate", "simple"],
    },
}

# --- Metering rules -----------------------------------------------------------------
# Events older than this are refused with timestamp_out_of_range (contract: 35 days).
LATE_EVENT_WINDOW_DAYS = env_int("LATE_EVENT_WINDOW_DAYS", 35)
FUTURE_EVENT_TOLERANCE_SECONDS = 300

# --- Background jobs: django-q2 on the ORM broker -------------------------------------
# timeout < retry, or a task still running would be handed to a second worker
# (accounts.checks refuses to start otherwise); max_attempts bounds redelivery.
Q_CLUSTER = {
    "name": "outcomeportal",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 600),
    "retry": env_int("Q_RETRY", 720),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "catch_up": False,
    "ack_failures": True,
    "label": "Background jobs",
}
if env_str("REDIS_URL"):
    Q_CLUSTER.pop("orm")
    Q_CLUSTER["redis"] = env_str("REDIS_URL")

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "billing@outcomeportal.local")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
