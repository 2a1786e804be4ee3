"""The vendor running this install, its customer accounts, people and API keys."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.crypto import salted_hmac


class Vendor(models.Model):
    """The organisation running this install (one per install in practice)."""

    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Account(models.Model):
    """A customer account of the vendor: the tenant every customer-visible row belongs to."""

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="accounts")
    # The vendor platform's own identifier; what the API uses in paths and payloads.
    external_id = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=200)
    currency = models.CharField(max_length=3, default="USD")  # ISO 4217
    timezone = models.CharField(max_length=64, default="UTC")  # IANA name; billing periods follow it
    tier = models.CharField(max_length=64, blank=True)
    industry = models.CharField(max_length=64, blank=True)
    use_case = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Billing details: the buyer on the account's invoices (copied onto each invoice when it is
    # finalized, so a later change never rewrites an invoice already sent). Edited by the account's
    # customer admin in the portal and over PATCH /api/v1/accounts/{id}.
    billing_name = models.CharField(max_length=200, blank=True)  # legal name; the account's name when empty
    billing_address = models.TextField(blank=True)  # as printed, one line per line
    billing_country = models.CharField(max_length=2, blank=True)  # ISO 3166-1 alpha-2; chooses the tax rate
    tax_id = models.CharField(max_length=64, blank=True)  # VAT / GST / EIN number, as the buyer gives it
    # Where invoices, credit notes and payment reminders are emailed.
    billing_emails = ArrayField(models.EmailField(max_length=254), default=list, blank=True)
    # The customer's minimum value threshold: the attainment rate (billable ÷ attempted, a ratio 0..1)
    # below which it is expected to leave. Null: none known. Set by vendor operators; read by the
    # finance area's churn scenario (finance/scenarios.py), nowhere in billing.
    min_attainment = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        null=True,
        blank=True,
        default=None,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"


class LifecycleStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CHURNED = "churned", "Churned"


class AccountLifecycleChange(models.Model):
    """One move of an account's lifecycle, from ``effective_at`` on: the history is the rows.

    An account with no row is ``active``. Rows are never edited or deleted; each is set by an
    operator (portal) or the vendor's key (API) through ``accounts.services.account_lifecycle_set``,
    which refuses illegal moves and changes dated before the last one. What the account's status was
    at any instant: ``accounts.selectors.account_status_at``.
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="lifecycle_changes")
    status = models.CharField(max_length=16, choices=LifecycleStatus.choices)
    effective_at = models.DateTimeField()  # from this instant on (a churn date: its local midnight)
    changed_by = models.CharField(max_length=150)  # who set it: a username or an API key's label
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "effective_at", "id"]
        indexes = [models.Index(fields=["account", "effective_at", "id"], name="lifecycle_account_time_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.status} from {self.effective_at:%Y-%m-%d}"


class Role(models.TextChoices):
    CUSTOMER_ADMIN = "customer_admin", "Customer admin"
    FINANCE_ADMIN = "finance_admin", "Finance admin"
    VIEWER = "viewer", "Viewer"
    VENDOR_SUPPORT = "vendor_support", "Vendor support"
    VENDOR_OPERATOR = "vendor_operator", "Vendor operator"
    VENDOR_FINANCE = "vendor_finance", "Vendor finance"


CUSTOMER_ROLES = (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER)
VENDOR_ROLES = (Role.VENDOR_SUPPORT, Role.VENDOR_OPERATOR, Role.VENDOR_FINANCE)


class User(AbstractUser):
    """A person. Customer roles are bound to exactly one account; vendor roles to none."""

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.VIEWER)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="users")
    # Raised when the person is deactivated (accounts.people): every session signed in before no
    # longer matches its hash and ends at its next request, even if the person is reactivated.
    session_epoch = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="user_account_matches_role",
                condition=(Q(role__in=CUSTOMER_ROLES) & Q(account__isnull=False))
                | (Q(role__in=VENDOR_ROLES) & Q(account__isnull=True)),
            )
        ]

    # Django keeps an HMAC of the password hash in each session and ends the session when it no
    # longer matches. Mixing in the epoch ends sessions without touching the password; at epoch 0
    # the hash is Django's own, so sessions from before the epoch existed stay valid.
    def _session_hash(self, secret: str | None = None) -> str:
        salt = "accounts.User.session_epoch"
        return salted_hmac(salt, f"{self.password}|{self.session_epoch}", secret=secret, algorithm="sha256").hexdigest()

    def get_session_auth_hash(self) -> str:
        return self._session_hash() if self.session_epoch else super().get_session_auth_hash()

    def get_session_auth_fallback_hash(self):
        if not self.session_epoch:
            yield from super().get_session_auth_fallback_hash()
            return
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret)


class ApiKeyScope(models.TextChoices):
    VENDOR = "vendor", "Vendor"
    ACCOUNT = "account", "Account"


class ApiKey(models.Model):
    """An API key. The secret is shown once at creation; only its SHA-256 is kept."""

    scope = models.CharField(max_length=16, choices=ApiKeyScope.choices)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys")
    # The customer role an account key acts with; empty for vendor keys.
    role = models.CharField(max_length=32, choices=[(r.value, r.label) for r in CUSTOMER_ROLES], blank=True)
    name = models.CharField(max_length=100)
    # The first characters of the key, kept in clear so people can tell keys apart.
    prefix = models.CharField(max_length=24, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)  # sha256 hex of the whole key
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Written at most once a minute per key, so a busy integration does not write per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="api_key_scope_shape",
                condition=(Q(scope="vendor") & Q(account__isnull=True) & Q(role=""))
                | (Q(scope="account") & Q(account__isnull=False) & Q(role__in=CUSTOMER_ROLES)),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class JobRun(models.Model):
    """What a background job or command did: for which scope, when, with what result.

    A run left ``running`` long after its start was killed mid-way; operators see it in
    the admin and rerun it (every job is idempotent).
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    name = models.CharField(max_length=64)
    scope = models.CharField(max_length=200, blank=True)  # e.g. "period=2026-11" or "now=…"
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["name", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.name} {self.scope} {self.status}"


class RateCounter(models.Model):
    """Hits of one key (an API key, a sign-in name...) in one fixed window: accounts.ratelimit.

    Shared by every process through the database, in an UNLOGGED table (migration 0004): counters
    need no crash recovery, and their writes cost no WAL.
    """

    pk = models.CompositePrimaryKey("key", "window_start")
    key = models.CharField(max_length=255)
    window_start = models.BigIntegerField()  # Unix seconds, a multiple of the window's length
    hits = models.PositiveIntegerField()


class Notification(models.Model):
    """A message for an account's people, shown in the portal (and usually also emailed)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=48)  # e.g. spend_alert, spend_forecast, dispute_status
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    # Who should see it: empty = everyone of the account; else only these roles.
    roles = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "-created_at"], name="notification_recent_idx")]


class WebhookEndpoint(models.Model):
    """A URL of the account's that receives signed notifications (spend alerts…)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=2048)
    # Shared secret for the HMAC-SHA256 signature; shown to the account so it can verify.
    secret = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One message to one endpoint, tried until delivered or out of attempts (every try logged)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"  # gave up after the last attempt

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=64)
    # Identifies the message for the receiver and makes enqueueing idempotent per endpoint.
    message_id = models.CharField(max_length=100)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "message_id"], name="webhook_message_once")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="webhook_due_idx", condition=Q(status="pending")),
        ]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]


class Invitation(models.Model):
    """An emailed, single-use link that lets a person set a password and join with a role.

    ``account`` is the customer account joined (a customer role), or empty for vendor staff (a
    vendor role), as on :class:`User`. The link carries a token signed with ``SECRET_KEY`` over
    the invitation and its ``nonce`` (accounts.people); sending it again draws a new nonce, so
    only the latest link works. Accepted, revoked and expired invitations stay as they are.
    """

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    role = models.CharField(max_length=32, choices=Role.choices)
    nonce = models.CharField(max_length=32)  # random; changes on every send
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField()  # the latest send
    send_count = models.PositiveSmallIntegerField(default=1)
    expires_at = models.DateTimeField()  # of the latest link
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="invitation_account_matches_role",
                condition=(Q(role__in=CUSTOMER_ROLES) & Q(account__isnull=False))
                | (Q(role__in=VENDOR_ROLES) & Q(account__isnull=True)),
            ),
            # One open invitation per address and account (vendor staff: account empty, one scope).
            models.UniqueConstraint(
                "account",
                Lower("email"),
                name="invitation_open_once",
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                nulls_distinct=False,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.role})"


class PeopleChange(models.Model):
    """Who changed whose access, when, and how: appended by accounts.people, never edited.

    ``account`` is the account whose people changed, or empty for vendor staff.
    """

    class Action(models.TextChoices):
        INVITED = "invited", "Invited"
        INVITATION_RESENT = "invitation_resent", "Invitation sent again"
        INVITATION_REVOKED = "invitation_revoked", "Invitation revoked"
        INVITATION_ACCEPTED = "invitation_accepted", "Joined"
        ROLE_CHANGED = "role_changed", "Role changed"
        DEACTIVATED = "deactivated", "Deactivated"
        REACTIVATED = "reactivated", "Reactivated"
        PASSWORD_RESET = "password_reset", "Password reset by email"

    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    actor = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)  # the actor's username then; kept if the actor goes
    action = models.CharField(max_length=32, choices=Action.choices)
    subject = models.CharField(max_length=254)  # the person's username, or the invited address
    subject_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=200, blank=True)  # e.g. "Viewer → Finance admin"

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["account", "-at"], name="people_change_recent_idx")]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.subject}"
