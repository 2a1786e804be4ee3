"""The outcome catalogue, outcome events and their decisions, signals and session claims.

An :class:`Event` row is the raw event as the platform sent it (immutable) plus metering's
decision (status, reason, rule version, checks). What an event costs, and whether it was
invoiced, disputed or credited, is billing's: its charge (``billing.ledger.models.Charge``).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from accounts.models import Account
from metering.fields import ChecksField


class ValueType(models.TextChoices):
    LABOR_SAVINGS = "labor_savings", "Labor savings"
    REVENUE_GENERATION = "revenue_generation", "Revenue generation"
    RISK_AVOIDANCE = "risk_avoidance", "Risk avoidance"


class ReopenPolicy(models.TextChoices):
    CONTINUATION = "continuation", "A reopen after the window continues the same outcome"
    NEW_OUTCOME = "new_outcome", "A reopen after the window is a new outcome"


class OutcomeType(models.Model):
    """A kind of customer-recognised result the product charges for."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # Default price per billable outcome, in the account's currency, where no contract says otherwise.
    # Never negative: an amount only ever adds to a period's spend (billing.caps relies on it).
    unit_price = models.DecimalField(max_digits=12, decimal_places=4, validators=[MinValueValidator(0)])
    value_type = models.CharField(max_length=32, choices=ValueType.choices, default=ValueType.LABOR_SAVINGS)
    # The gross margin below which finance flags this type (a ratio, 0.6000 = 60 %); empty: the
    # FINANCE_MARGIN_FLOOR setting.
    margin_floor = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [models.CheckConstraint(name="outcome_type_price_not_negative", condition=Q(unit_price__gte=0))]

    def __str__(self) -> str:
        return self.name


class SuccessCriteria(models.Model):
    """One version of the definition of success for an outcome type.

    ``account`` empty: the product definition. ``account`` set: that account's enterprise
    override, which wins over the product definition. Rows are never edited — a change is
    a new version — and every decision points at the version that made it.
    """

    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.PROTECT, related_name="criteria")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField()
    # The definition in words, shown to customers:
    # "A billable outcome occurs when [system action] produces [customer result], without
    #  [failure condition], within [window], verified by [verification source]."
    system_action = models.CharField(max_length=300)
    customer_result = models.CharField(max_length=300)
    failure_condition = models.CharField(max_length=300)
    verification_source = models.CharField(max_length=300)
    dispute_process = models.TextField(blank=True)
    # The rules the decision engine applies (see metering.engine.Rules).
    measurement_window_hours = models.PositiveIntegerField(default=72)
    one_per_session = models.BooleanField(default=True)
    required_verification_methods = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    excluded_workflows = ArrayField(models.CharField(max_length=128), default=list, blank=True)
    excluded_channels = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    handoff_is_billable = models.BooleanField(default=False)
    confirm_closes_window = models.BooleanField(default=False)
    reopen_after_window = models.CharField(
        max_length=16, choices=ReopenPolicy.choices, default=ReopenPolicy.CONTINUATION
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name_plural = "success criteria"
        ordering = ["outcome_type", "account", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["outcome_type", "account", "version"],
                name="criteria_version_uniq",
                nulls_distinct=False,
            )
        ]

    @property
    def label(self) -> str:
        scope = f"{self.account.external_id} " if self.account_id else ""
        return f"{self.outcome_type.code} {scope}v{self.version}"

    def __str__(self) -> str:
        return self.label


class OutcomeCost(models.Model):
    """What delivering one outcome of a type costs the vendor, per complexity tier, from a date.

    The vendor's figure (finance's margin), used for an event that reports no ``cost_amount`` of its
    own. ``complexity`` empty: every tier without a cost of its own. Rows are never edited: a new
    cost is a new row from its ``effective_from``, and an outcome takes the cost in force on its
    local date. Amounts are in the account's currency, like ``OutcomeType.unit_price``.
    """

    COMPLEXITIES = ("", "simple", "moderate", "complex")

    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.PROTECT, related_name="costs")
    complexity = models.CharField(max_length=16, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=6, validators=[MinValueValidator(0)])
    effective_from = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["outcome_type", "complexity", "effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["outcome_type", "complexity", "effective_from"], name="outcome_cost_once_per_day"
            ),
            models.CheckConstraint(name="outcome_cost_not_negative", condition=Q(amount__gte=0)),
            models.CheckConstraint(
                name="outcome_cost_known_tier", condition=Q(complexity__in=["", "simple", "moderate", "complex"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.outcome_type_id} {self.complexity or 'any tier'} {self.amount} from {self.effective_from}"


class EventStatus(models.TextChoices):
    """Metering's decision. Invoiced, disputed and credited are the charge's states (billing)."""

    PENDING = "pending", "Pending"
    BILLABLE = "billable", "Billable"
    NON_BILLABLE = "non_billable", "Not billable"


class Event(models.Model):
    """One outcome event: the raw record as posted, plus metering's decision."""

    # No database foreign-key constraint on the account, nor on the catalogue references
    # (outcome_type, criteria): ingestion resolves all three from existing rows in the same
    # transaction, none of them is ever deleted (PROTECT here; for the account a trigger also
    # refuses a raw DELETE while it has events: migration 0008), and the deferred checks cost
    # ~14 ms of commit per 1,000 events for the catalogue and ~6 more for the account
    # (bench/README.md).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    # --- the raw event, as posted (never changed after insert) ---
    event_id = models.CharField(max_length=128)  # the platform's idempotency key, unique per account
    outcome_type = models.ForeignKey(
        OutcomeType, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    occurred_at = models.DateTimeField()
    success_criteria_met = models.BooleanField()
    human_handoff = models.BooleanField(default=False)
    channel = models.CharField(max_length=64, blank=True)
    workflow = models.CharField(max_length=128, blank=True)
    session_id = models.CharField(max_length=128, blank=True)
    complexity = models.CharField(max_length=16, blank=True)
    verification_method = models.CharField(max_length=64, blank=True)
    source_url = models.CharField(max_length=2048, blank=True)
    sandbox = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=32, blank=True)
    value_amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    # The vendor's cost of delivering this outcome: vendor eyes only, never a customer's.
    cost_amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    # Hash of the normalised payload: same event_id + same hash = duplicate, else conflict.
    payload_hash = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    # --- the decision (see metering.engine) ---
    status = models.CharField(max_length=16, choices=EventStatus.choices)
    non_billable_reason = models.CharField(max_length=32, blank=True)
    window_ends_at = models.DateTimeField()
    criteria = models.ForeignKey(
        SuccessCriteria, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    checks = ChecksField()  # [[check code, outcome], ...] in engine order, stored as one letter each
    state = models.JSONField(default=dict)  # the account-state facts the decision used
    decided_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    # No index mentions ``status`` or ``settled_at`` (settlement finds its work in PendingWindow),
    # so settling an event — and billing it later — is a HOT update that touches no index when
    # its page has room. Migration 0006 sets a fillfactor that leaves that room.
    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "event_id"], name="event_account_event_id_uniq"),
            # A value created and a cost are never negative (metering.validation refuses them).
            models.CheckConstraint(name="event_value_amount_not_negative", condition=Q(value_amount__gte=0)),
            models.CheckConstraint(name="event_cost_amount_not_negative", condition=Q(cost_amount__gte=0)),
        ]
        indexes = [
            # The audit table and API list: keyset on (occurred_at, id), newest first.
            models.Index(fields=["account", "-occurred_at", "-id"], name="event_account_recent_idx"),
            # The audit table's reason filter, in keyset order: a rare reason (cap_reached,
            # verification_failed…) is found without walking every event of the account.
            # Partial: only non-billable events pay for it at ingestion.
            models.Index(
                fields=["account", "non_billable_reason", "-occurred_at", "-id"],
                name="event_account_reason_idx",
                condition=~Q(non_billable_reason=""),
            ),
            # The audit table's search by session ID (and the detail page's "all events of this
            # session"): without it, a seq scan of the whole table. Events without a session skip it.
            models.Index(
                fields=["account", "session_id"], name="event_account_session_idx", condition=~Q(session_id="")
            ),
        ]

    def __str__(self) -> str:
        return self.event_id


class PendingWindow(models.Model):
    """Settlement's work list: one row per event that was pending when stored, with its window end.

    Written by a trigger on ``metering_event`` (migration 0005) in the inserting statement, so
    every writer — ingestion, the ORM, seeds — queues its pending events, and a row commits
    with its event. ``outcomes_settle`` takes due rows (``FOR UPDATE SKIP LOCKED``), deletes them
    and settles their events that are still pending. A row whose event was ruled out meanwhile is
    simply dropped then. A signal that brings a window end forward moves the row's end too;
    windows never move later, so a row is never due after its event is.
    """

    pk = models.CompositePrimaryKey("window_ends_at", "event")
    window_ends_at = models.DateTimeField()
    # No database constraint: a foreign-key check per queued event would cost ingestion more
    # than the row itself; a row whose event is gone settles nothing.
    event = models.ForeignKey(Event, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False)


class SignalType(models.TextChoices):
    REOPENED = "reopened", "Reopened"
    REVERSED = "reversed", "Reversed"
    ESCALATED = "escalated", "Escalated"
    CONFIRMED = "confirmed", "Confirmed"


class Signal(models.Model):
    """Something that happened to an outcome after it was reported."""

    class Effect(models.TextChoices):
        APPLIED = "applied", "Changed the decision"
        WINDOW_CLOSED = "window_closed", "Arrived after the measurement window: recorded only"
        NO_EFFECT = "no_effect", "Recorded; the decision already stood"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="signals")
    type = models.CharField(max_length=16, choices=SignalType.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    note = models.TextField(blank=True)
    effect = models.CharField(max_length=16, choices=Effect.choices)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            # The same signal posted twice is stored once.
            models.UniqueConstraint(fields=["event", "type", "occurred_at"], name="signal_once_uniq")
        ]


class SessionClaim(models.Model):
    """Which event holds the one billable outcome of a session (one-per-session types).

    A primary key, not a lookup, makes "one per session" hold under concurrent posts.
    A claim is released when its event turns non-billable (a reopen, a credited dispute).
    Where the criteria say a reopen after the window is a *new outcome*, a later event of
    the session may take the claim over once ``renewable_after`` (the holder's window end)
    has passed; otherwise ``renewable_after`` is empty and the claim holds for good.
    """

    # One index only, the key (a composite primary key, no surrogate id): no foreign-key
    # constraints (three deferred checks per claim cost ingestion ~10 ms of commit per 1,000
    # events) and no index on ``event`` (a claim is released through its key, which the event
    # carries: see ``metering.lifecycle.session_claims_release``).
    pk = models.CompositePrimaryKey("account", "outcome_type", "session_id")
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    outcome_type = models.ForeignKey(
        OutcomeType, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    session_id = models.CharField(max_length=128)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False)
    event_key = models.CharField(max_length=128)  # the holder's event_id, recorded in decisions
    occurred_at = models.DateTimeField()  # the holder's
    renewable_after = models.DateTimeField(null=True, blank=True)


class _EventTally(models.Model):
    """What the event rollups count: the key after the date, and the sums (one definition for the day
    and the month grain)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=16)
    non_billable_reason = models.CharField(max_length=32)
    events = models.BigIntegerField()
    # The vendor's delivery cost (finance's margin; migration 0015): the sum of the costs the events
    # reported, and how many events reported none, by complexity tier — those are costed from the
    # catalogue (OutcomeCost) by finance. Vendor eyes only, like Event.cost_amount.
    reported_cost = models.DecimalField(max_digits=24, decimal_places=6, default=0)
    uncosted = models.BigIntegerField(default=0)  # no reported cost, no complexity
    uncosted_simple = models.BigIntegerField(default=0)
    uncosted_moderate = models.BigIntegerField(default=0)
    uncosted_complex = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(_EventTally):
    """Events per account, local day, outcome type, status and reason.

    Maintained by statement-level triggers on ``metering_event`` (migrations 0002, 0014), so it
    is exact whichever service inserts or updates events: counts read a few hundred rows here
    instead of scanning an account's events. ``day`` is the event's date in the account's time
    zone. Never written by application code. Money is billing's (``billing.ledger.ChargeRollup``).
    """

    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "outcome_type", "status", "non_billable_reason"],
                name="rollup_key_uniq",
            )
        ]


class MonthlyRollup(_EventTally):
    """The daily rollup by local month: the same key with ``month`` (the month's first day) for ``day``
    and the same sums — what figures over many months read (finance: ~30 times fewer rows). Exact
    once folded: the triggers mark the account-months they touch (:class:`MonthlyRollupMark`) and
    readers call ``metering.month_rollup.EVENTS.fold()`` first. Never written by other code.
    """

    month = models.DateField()  # the first day of the event's month in the account's time zone

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "month", "outcome_type", "status", "non_billable_reason"],
                name="monthly_rollup_key_uniq",
            )
        ]
        indexes = [models.Index(fields=["month"], name="monthly_rollup_month_idx")]


class MonthFold(models.Model):
    """How many folds have rebuilt some account's rows of a month, in either month rollup
    (metering.month_rollup): a month's figures read from the month rollups cannot have changed
    while its count has not — what finance keeps its history under."""

    month = models.DateField(primary_key=True)
    folds = models.BigIntegerField(default=0)


class MonthlyRollupMark(models.Model):
    """An account-month whose month rollup is behind its day rollup: appended by the daily rollup's
    triggers (migration 0019), never merged (see metering.month_rollup), removed by the fold."""

    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    month = models.DateField()
