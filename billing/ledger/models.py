"""The charge ledger: what each event costs, under which contract, and where it stands.

Metering keeps the facts of an event and its own decision (criteria, window, session, sandbox,
signals). Everything about money is here, one :class:`Charge` per event that can cost money —
every outcome that is billable now or once its window closes, and every attempt that did not
succeed (some contracts charge a fee for those) — written by the ingestion in the transaction that
stores the event (:mod:`billing.ingestion`):

* the contract version that rated it, and the amount and credits it adds to the invoice *as the
  period stands* (included outcomes at 0, bands by rank: :mod:`billing.rating`); finalizing records
  the exact amount of the line that bills it;
* its state — ``estimated`` while its event's window is open, ``rated`` once it is billable,
  ``invoiced`` on a final invoice, ``disputed`` while a dispute about it is open, ``credited`` after
  one was approved, ``void`` when a signal ruled its outcome out inside the window;
* its reason when it costs nothing: ``included`` in the platform fee, or one of billing's rulings
  (``training_window``, ``pilot_free``, ``cap_reached``, and ``account_suspended`` /
  ``account_churned`` for an account that was not active when the event occurred) and disputes'
  (``dispute_credited``).

:class:`ChargeRollup` keeps the charges' counts and sums per account, local day, type, complexity,
kind, state and reason (statement-level triggers, migration 0007): every period figure reads a
few hundred rows of it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account
from billing.invoices.models import ContractVersion, InvoiceLine
from metering.models import Event, OutcomeType


class ChargeState(models.TextChoices):
    ESTIMATED = "estimated", "Estimated: the measurement window is open"
    RATED = "rated", "Rated: on the upcoming invoice"
    INVOICED = "invoiced", "Invoiced"
    DISPUTED = "disputed", "Disputed"
    CREDITED = "credited", "Credited"
    VOID = "void", "Void: the outcome was ruled out inside its window"


class ChargeReason(models.TextChoices):
    NONE = "", "Charged"
    INCLUDED = "included", "Included in the platform fee"
    TRAINING_WINDOW = "training_window", "Free training window"
    PILOT_FREE = "pilot_free", "Free pilot allowance"
    CAP_REACHED = "cap_reached", "Monthly spend cap reached (automation paused)"
    DISPUTE_CREDITED = "dispute_credited", "Credited after a dispute"
    ACCOUNT_SUSPENDED = "account_suspended", "Account suspended: stored, not billed"
    ACCOUNT_CHURNED = "account_churned", "Account churned: stored, not billed"
    DEDUCTED = "deducted", "Deducted after the window: the customer came back"


# The reasons that make an outcome cost nothing although metering decided it billable: the
# customer sees the outcome as not billable, for that reason (the contract's reason words).
FREE_REASONS = (
    ChargeReason.TRAINING_WINDOW,
    ChargeReason.PILOT_FREE,
    ChargeReason.CAP_REACHED,
    ChargeReason.DISPUTE_CREDITED,
    ChargeReason.ACCOUNT_SUSPENDED,
    ChargeReason.ACCOUNT_CHURNED,
    ChargeReason.DEDUCTED,
)
# The reason of a charge whose account was not active when its event occurred, by lifecycle status.
INACTIVE_REASONS = {"suspended": ChargeReason.ACCOUNT_SUSPENDED, "churned": ChargeReason.ACCOUNT_CHURNED}
# Charges that the invoice counts: charged, or inside the platform fee's allowance.
COUNTED_REASONS = (ChargeReason.NONE, ChargeReason.INCLUDED)


# Charges that count in the period's charges: rated (settled billable) and, on a period already
# final, billed (an open period has none of those); pending ones are counted apart. Credited ones
# were given back, void ones ruled out; allowances and the cap charge nothing (their reason).
COUNTED_STATES = ("rated", "invoiced", "disputed")


def charge_class(attempt: bool, state: str, reason: str) -> str | None:
    """How a rollup row of charges counts: ``R`` resolved, ``P`` pending, ``A`` a charged attempt
    (if its type's attempts are charged), None not at all."""
    if reason not in ("", "included"):
        return None
    if attempt:
        return "A" if state in COUNTED_STATES and not reason else None
    if state in COUNTED_STATES:
        return "R"
    return "P" if state == "estimated" else None


class Charge(models.Model):
    """What one event costs (see the module docstring). Keyed by its event: one charge per event."""

    # No database foreign keys (ingestion writes a charge per event; each deferred check would
    # cost it, as for the event's own references: metering.models.Event) — the event, account,
    # type, version and line are resolved in the same transaction and never deleted.
    event = models.OneToOneField(
        Event, primary_key=True, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    # The event's facts that invoicing groups and ranks by, copied once (they never change), so
    # that a period's invoice reads its charges alone.
    outcome_type = models.ForeignKey(
        OutcomeType, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    occurred_at = models.DateTimeField()
    complexity = models.CharField(max_length=16, blank=True)
    value_amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # gain-share base
    attempt = models.BooleanField(default=False)  # an attempt that did not succeed: only ever a fee
    # --- billing's ---
    contract_version = models.ForeignKey(
        ContractVersion, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # 6 places; lines round
    credits = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=12, choices=ChargeState.choices)
    reason = models.CharField(max_length=32, choices=ChargeReason.choices, blank=True)
    invoice_line = models.ForeignKey(
        InvoiceLine, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip

    # No index mentions state, amount or the line: settling a charge, invoicing it and crediting
    # it are HOT updates where the page has room (fillfactor: migration 0007).
    class Meta:
        indexes = [
            # A period's charges in occurrence order: what invoicing selects, ranks and freezes.
            models.Index(fields=["account", "occurred_at", "event"], name="charge_account_time_idx"),
            # The audit table's filter on billing's reasons (rare: cap_reached, pilot_free…), newest first.
            models.Index(
                fields=["account", "reason", "-occurred_at", "-event"],
                name="charge_account_reason_idx",
                condition=~Q(reason__in=["", "included"]),
            ),
        ]

    def __str__(self) -> str:
        return f"charge of event {self.event_id}: {self.state} {self.amount}"


class _ChargeTally(models.Model):
    """What the charge rollups count: the key after the date, and the sums (one definition for the
    day and the month grain)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    outcome_type = models.ForeignKey(OutcomeType, on_delete=models.CASCADE, related_name="+", db_index=False)
    complexity = models.CharField(max_length=16, blank=True, default="")
    attempt = models.BooleanField(default=False)
    state = models.CharField(max_length=12)
    reason = models.CharField(max_length=32, blank=True)
    charges = models.BigIntegerField()
    amount = models.DecimalField(max_digits=24, decimal_places=6)
    credits = models.DecimalField(max_digits=24, decimal_places=4)

    class Meta:
        abstract = True


class ChargeRollup(_ChargeTally):
    """Charges per account, local day, type, complexity, kind, state and reason — with their sums.

    Kept exact by statement-level triggers on ``billing_charge`` (migration 0007); never written by
    application code. ``day`` is the event's date in the account's time zone.
    """

    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "outcome_type", "complexity", "attempt", "state", "reason"],
                name="charge_rollup_key_uniq",
            )
        ]


class ChargeMonthRollup(_ChargeTally):
    """The charge rollup by local month: the same key with ``month`` (the month's first day) for
    ``day`` and the same sums — what figures over many months read. Exact once folded: the triggers
    mark the account-months they touch (:class:`ChargeMonthMark`) and readers call
    ``billing.ledger.month_rollup.month_rollups_fold()`` first. Never written by other code."""

    month = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "month", "outcome_type", "complexity", "attempt", "state", "reason"],
                name="charge_month_rollup_key_uniq",
            )
        ]
        indexes = [models.Index(fields=["month"], name="charge_month_rollup_month_idx")]


class ChargeMonthMark(models.Model):
    """An account-month whose charge month rollup is behind the day rollup: appended by the charge
    rollup's triggers (migration 0018), never merged (see metering.month_rollup), removed by the fold."""

    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, related_name="+", db_index=False, db_constraint=False
    )
    month = models.DateField()


class Deduction(models.Model):
    """An outcome deducted after its window: the platform or an operator learnt that the customer came
    back (billing.invoices.corrections.outcome_deduct). One per event; append-only.

    Not yet invoiced, the charge leaves the draft (``credited``, reason ``deducted``); invoiced, a
    credit note gives its amount back on the next invoice (or its credits back to the balance).
    """

    class How(models.TextChoices):
        LEFT_DRAFT = "left_draft", "Left the upcoming invoice"
        CREDIT_NOTE = "credit_note", "Credited on the next invoice"

    event = models.OneToOneField(Event, primary_key=True, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    reason = models.TextField()
    reported_at = models.DateTimeField()  # when the customer came back, as reported
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    how = models.CharField(max_length=16, choices=How.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # money given back
    credits = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)  # credits given back
    credit_note = models.ForeignKey(
        "billing.CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        indexes = [models.Index(fields=["account", "created_at"], name="deduction_account_idx")]

    def __str__(self) -> str:
        return f"deduction of event {self.event_id}"
