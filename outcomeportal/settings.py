"""OutcomePortal settings — all of them read from the environment, nowhere else.

See docs/configuration.md for every variable. With no ``DATABASE_URL`` the app starts
(or joins) an embedded PostgreSQL in ``.data/pg``; PostgreSQL is the only database.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

from outcomeportal.env import env_bool, env_int, env_int_list, env_list, env_str

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
    # The product, left to right: data flows accounts → metering → billing → disputes → finance.
    "accounts",
    "metering",
    "billing",
    "disputes",
    "finance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "outcomeportal.middleware.RejectNulCharactersMiddleware",
    "outcomeportal.middleware.PortalNotFoundMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "billing.moneylog.actor.MoneyActorMiddleware",  # money acts name who did them (billing.moneylog)
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
            # The presentation vocabulary (money, count, percent, day, moment, period, duration,
            # plural, label, voice) in every template, emails included: one way to write each.
            "builtins": ["billing.templatetags.portal"],
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

# --- People (accounts.people): invitations and password reset by email ---------------------
# An invitation link works once, for this many days after it was (last) sent.
INVITATION_MAX_AGE_DAYS = env_int("INVITATION_MAX_AGE_DAYS", 7)
# A password reset link works once, for this many seconds (Django's setting).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 60 * 60)
# Reset requests per window: for one email address (whoever asks), and from one client address.
# Beyond either, the answer is the same and nothing is sent.
PASSWORD_RESETS_PER_EMAIL = env_int("PASSWORD_RESETS_PER_EMAIL", 3)
PASSWORD_RESETS_PER_ADDRESS = env_int("PASSWORD_RESETS_PER_ADDRESS", 20)
PASSWORD_RESET_WINDOW_SECONDS = env_int("PASSWORD_RESET_WINDOW_SECONDS", 60 * 60)

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
        "PaymentStatusEnum": ["open", "paid", "void", "uncollectible"],
        "PaymentSourceEnum": ["operator", "api", "webhook"],
        "DeliveryStatusEnum": ["pending", "sent", "failed"],
        "DeliveryKindEnum": ["email", "webhook"],
        "DeliveryEventEnum": ["invoice.finalized", "credit_note.issued", "invoice.overdue"],
        "DisputeStatusEnum": ["open", "approved", "partially_approved", "rejected"],
        "ComplexityEnum": ["complex", "moderate", "simple"],
        "LifecycleStatusEnum": ["active", "suspended", "churned"],
        "InvitationStatusEnum": ["pending", "expired"],
        "LedgerProblemCodeEnum": "billing.moneylog.api.PROBLEM_CODES",
        # Reason words: metering's alone (a decision), and every word a customer reads (with billing's).
        "NonBillableReasonEnum": "metering.engine.REASONS",
        "ShownReasonEnum": "billing.ledger.shown.REASONS",
    },
}

# --- Metering rules -----------------------------------------------------------------
# Events older than this are refused with timestamp_out_of_range (contract: 35 days).
LATE_EVENT_WINDOW_DAYS = env_int("LATE_EVENT_WINDOW_DAYS", 35)
FUTURE_EVENT_TOLERANCE_SECONDS = 300

# --- Finance (finance/; docs/finance.md) ----------------------------------------------
# A segment whose attainment falls more than this many percentage points below its trailing
# 3-month mean is flagged as falling.
FINANCE_ATTAINMENT_DROP_POINTS = env_int("FINANCE_ATTAINMENT_DROP_POINTS", 5)
# The gross margin (in percent) below which an outcome type is flagged, unless the type sets its own.
FINANCE_MARGIN_FLOOR_PERCENT = env_int("FINANCE_MARGIN_FLOOR_PERCENT", 60)

# --- Signed decision certificates (outcomeportal.signing; docs/security.md "Signed decisions") ---
# The active Ed25519 private key: a PEM file, or its 32 raw bytes in base64 — one of the two. With
# neither, a key generated once into the data folder (development, tests, a single machine).
DECISION_SIGNING_KEY_FILE = env_str("DECISION_SIGNING_KEY_FILE")
DECISION_SIGNING_KEY = env_str("DECISION_SIGNING_KEY")
# Retired public keys, still listed so that what they signed verifies: "kid:base64,kid:base64".
DECISION_SIGNING_RETIRED_KEYS = env_list("DECISION_SIGNING_RETIRED_KEYS", [])

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
# Where Django's file backend (django.core.mail.backends.filebased.EmailBackend: `make demo`'s) writes
# each email, one file per message.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "billing@outcomeportal.local")

# --- Invoices: the seller printed on every invoice (billing.invoices.document) --------------
# The vendor's legal name (the Vendor's name when empty), postal address (lines separated by "\n"
# or "|"), country (ISO 3166-1 alpha-2), tax id, and how to pay (bank details, a payment link).
SELLER_LEGAL_NAME = env_str("SELLER_LEGAL_NAME")
SELLER_ADDRESS = env_str("SELLER_ADDRESS")
SELLER_COUNTRY = env_str("SELLER_COUNTRY")
SELLER_TAX_ID = env_str("SELLER_TAX_ID")
SELLER_EMAIL = env_str("SELLER_EMAIL")
SELLER_PAYMENT_INSTRUCTIONS = env_str("SELLER_PAYMENT_INSTRUCTIONS")
# Incoming payment webhooks (POST /api/v1/payments/webhook): the shared secret of the HMAC-SHA256
# signature the processor (or the adapter in front of it) sends; empty: the endpoint refuses everything.
PAYMENT_WEBHOOK_SECRET = env_str("PAYMENT_WEBHOOK_SECRET")
# Stripe's endpoint secret (whsec_…) for POST /api/v1/payments/stripe, the adapter for Stripe's own
# signature header and event shape; empty: that endpoint refuses everything.
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
PAYMENT_WEBHOOK_TOLERANCE_SECONDS = env_int("PAYMENT_WEBHOOK_TOLERANCE_SECONDS", 300)
# Overdue reminders: emailed this many days after an unpaid invoice's due date, each once.
PAYMENT_REMINDER_DAYS = env_int_list("PAYMENT_REMINDER_DAYS", [1, 7, 14])
# The portal's public address, for links in emails ("https://billing.example.com"); empty: no links.
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}
