"""Contracts, invoices and credit notes (billing's invoicing models).

Kept in their own module so that spend controls can live beside them; ``billing.models``
re-exports them. Invariants are held by the database, not by ``save()``:

* one live invoice per (account, period) — a unique constraint (void invoices excepted) makes
  building idempotent; a voided invoice is reissued as a new draft of its period that names it
  (``replaces``: billing.invoices.corrections.invoice_void);
* invoice and credit-note numbers come from a locked :class:`NumberSeries` row in the
  finalizing transaction, so they are sequential without gaps (never "max + 1");
* a finalized invoice, its lines and its credit applications never change: triggers
  refuse the UPDATE/DELETE (only finalized → void is allowed, and nothing else with it);
* contract versions and credit notes are append-only (triggers again).
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import Account
from metering.models import OutcomeType


class ContractVersion(models.Model):
    """One version of an account's contract. Never edited: a change is a new version.

    Which version governs a period: the latest one in force on the period's first day (a
    contract starting mid-period governs that period) — see ``contracts.version_for_period``.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    version = models.PositiveIntegerField()  # 1, 2, 3… per account
    effective_from = models.DateField()  # a date in the account's time zone
    # The validated, normalised contract document (billing.contracts.terms_json).
    terms = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["account", "-version"]
        constraints = [models.UniqueConstraint(fields=["account", "version"], name="contract_version_uniq")]

    def __str__(self) -> str:
        return f"contract v{self.version} of account {self.account_id} from {self.effective_from}"


class NumberSeries(models.Model):
    """A gapless counter ("invoice", "credit_note"), taken under a row lock in the same transaction
    as the document it numbers: a rollback returns the number, so there are never gaps."""

    name = models.CharField(max_length=32, primary_key=True)
    prefix = models.CharField(max_length=16)
    next_value = models.PositiveBigIntegerField(default=1)


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft (upcoming)"
    FINALIZED = "finalized", "Finalized"
    VOID = "void", "Void"


class PaymentStatus(models.TextChoices):
    """Where the money of a final invoice stands (beside the document's own ``status``).

    ``open`` → ``paid`` (payments reached the amount due) | ``uncollectible`` (written off; a
    payment may still arrive and make it paid) | ``void`` (the invoice was voided). The moves are
    billing.receivables.states; a draft has none (null).
    """

    OPEN = "open", "Open"
    PAID = "paid", "Paid"
    VOID = "void", "Void"
    UNCOLLECTIBLE = "uncollectible", "Uncollectible"


class InvoiceQuerySet(models.QuerySet):
    def live(self) -> InvoiceQuerySet:
        """Each period's invoice: every invoice but those voided and reissued (a replacement names
        them). What "the invoice of a period" means everywhere — carries, drafts, catch-up."""
        return self.exclude(status=InvoiceStatus.VOID, replaced_by__isnull=False)


class Invoice(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    period = models.CharField(max_length=7)  # YYYY-MM, a whole month in the account's time zone
    # The period's bounds as UTC instants: [period_start, period_end).
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    # Sequential without gaps, given at finalization; null while a draft.
    number = models.CharField(max_length=32, null=True, blank=True, unique=True)
    currency = models.CharField(max_length=3)
    contract_version = models.ForeignKey(
        ContractVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Sums of the (already rounded) lines: never rounded again. total = subtotal − credits_applied.
    subtotal = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    credits_applied = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    total = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    # What the previous period handed over (rolled-over credits, commitment used) and what this one hands on.
    carry_in = models.JSONField(default=dict, blank=True)
    carry_out = models.JSONField(default=dict, blank=True)
    # The period's attainment per outcome type its contract's guarantee was checked with, read when
    # the invoice was finalized ([{"outcome_type", "billable", "attempted"}]); null: not checked (a
    # draft, or no guarantee). Kept so the invoice can be priced again as it was (billing.whatif).
    attainment = models.JSONField(null=True, blank=True)
    notes = models.JSONField(default=list, blank=True)  # plain-words notes (credits used, commitment drawn…)
    refreshed_at = models.DateTimeField()  # a draft's last recomputation
    finalized_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    # --- The invoice as a document (billing.invoices.document). Set at finalization, with the number;
    # a draft carries what it would say today. Never changed afterwards (the guard trigger).
    issued_at = models.DateTimeField(null=True, blank=True)  # = finalized_at: the issue date
    due_at = models.DateTimeField(null=True, blank=True)  # issued_at + payment_terms_days
    payment_terms_days = models.PositiveSmallIntegerField(default=30)  # net N, from the contract version
    # Who sells and who buys, as printed: copied from the settings and the account's billing
    # details when finalized, so a later change of address never rewrites an invoice already sent.
    seller = models.JSONField(default=dict, blank=True)
    buyer = models.JSONField(default=dict, blank=True)
    # Tax on the total (subtotal − credits applied), rounded once to the currency: a percentage
    # from the operators' rule for the account or the buyer's country (billing.invoices.tax).
    tax_rate = models.DecimalField(max_digits=7, decimal_places=4, default=0)  # percent: 20.0000 = 20 %
    tax_amount = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    tax_note = models.CharField(max_length=300, blank=True)  # e.g. the reverse-charge mention

    # --- Collection: the only columns of a final invoice that still move (billing.receivables).
    payment_status = models.CharField(max_length=16, choices=PaymentStatus.choices, null=True, blank=True)
    # The sum of the invoice's Payment rows (the ledger is the truth; this is kept with it, under the
    # invoice row's lock, so receivables read one row per invoice).
    amount_paid = models.DecimalField(max_digits=18, decimal_places=4, default=0)
    paid_at = models.DateTimeField(null=True, blank=True)  # when payments reached the amount due
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    # The void invoice this one reissues (a draft created by the void, finalized by the catch-up);
    # its period's. Set when the row is created, never changed (the guard trigger, once final).
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        # The id last: of a period's invoices, a voided one comes before its replacement, so a reader
        # that keys a period's invoices by period (billing.charges) keeps the live one.
        ordering = ["-period", "account_id", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period"], condition=~Q(status="void"), name="invoice_account_period_uniq"
            ),
            models.CheckConstraint(
                name="invoice_number_iff_not_draft",
                condition=(Q(status="draft") & Q(number__isnull=True)) | (~Q(status="draft") & Q(number__isnull=False)),
            ),
            models.CheckConstraint(
                name="invoice_total_is_sum", condition=Q(total=models.F("subtotal") - models.F("credits_applied"))
            ),
            models.CheckConstraint(
                name="invoice_payment_status_iff_final",
                condition=(Q(status="draft") & Q(payment_status__isnull=True))
                | (~Q(status="draft") & Q(payment_status__isnull=False)),
            ),
            models.CheckConstraint(name="invoice_amount_paid_not_negative", condition=Q(amount_paid__gte=0)),
        ]
        indexes = [
            models.Index(fields=["payment_status", "due_at"], name="invoice_receivable_idx"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.period}"

    # What a customer owes, from the stored figures (the same on the page, the PDF and the API).
    @property
    def total_with_tax(self):
        return self.total + self.tax_amount

    @property
    def amount_credited(self):
        """Credit notes applied on this invoice as credit lines (already taken off its total)."""
        return self.credits_applied

    @property
    def amount_due(self):
        if self.payment_status == PaymentStatus.VOID:
            return Decimal(0)
        return max(self.total_with_tax - self.amount_paid, Decimal(0))


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=120)  # stable within the invoice: a draft keeps its line ids across refreshes
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)  # pricing line kinds: outcome, included, late, platform_fee, …
    description = models.CharField(max_length=300)
    outcome_type = models.ForeignKey(
        OutcomeType, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    unit_price = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # unrounded
    amount = models.DecimalField(max_digits=18, decimal_places=4)  # rounded once to the currency's minor unit
    credits = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    unit_credits = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    # Which events the line bills (pricing.Alloc as JSON): period, type, complexity, classes, ranks.
    alloc = models.JSONField(null=True, blank=True)
    credit_note = models.ForeignKey(
        "CreditNote", null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "key"], name="invoice_line_key_uniq")]
        indexes = [models.Index(fields=["account", "invoice"], name="invoice_line_account_idx")]

    def __str__(self) -> str:
        return self.description


class InvoiceEventsPending(models.Model):
    """The events a finalized invoice line bills, frozen in the finalizing transaction, until they
    are stamped with their line (``billing.services.invoice_events_link``), which deletes the row.

    Finalizing prices from aggregates and stores one compact id array per line instead of
    rewriting every event row in the same transaction: the invoice is final (numbered, totals
    fixed, immutable) in a second or two; the stamping follows. While a row exists, its invoice's
    period is not treated as having late outcomes, and anything that reads an event's line links
    the account's pending invoices first.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="+")
    line = models.OneToOneField(InvoiceLine, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    event_ids = ArrayField(models.BigIntegerField())

    def __str__(self) -> str:
        return f"{len(self.event_ids)} events of line {self.line_id} waiting to be stamped"


class CreditNote(models.Model):
    """A correction: money given back, applied to the next invoice as a credit line. Append-only."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    number = models.CharField(max_length=32, unique=True)  # sequential without gaps (NumberSeries)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=18, decimal_places=4)  # positive, rounded to the currency
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    # Plain ids, not foreign keys: metering's events and disputes' disputes (apps stay one-way).
    event_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    dispute_id = models.BigIntegerField(null=True, blank=True, unique=True)  # one credit note per dispute
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["account", "-created_at"], name="credit_note_account_idx")]
        constraints = [models.CheckConstraint(name="credit_note_amount_positive", condition=Q(amount__gt=0))]

    def __str__(self) -> str:
        return self.number


class TaxRate(models.Model):
    """A tax rate set by the vendor's operators: for one account, or for buyers in one country.

    The account's own rule wins over its country's; with neither, no tax. A zero rate marked
    ``reverse_charge`` prints the reverse-charge note (B2B across EU borders, say): the buyer
    accounts for the tax.
    """

    account = models.OneToOneField(
        Account, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    country = models.CharField(max_length=2, blank=True)  # ISO 3166-1 alpha-2, upper case
    name = models.CharField(max_length=60, default="VAT")  # what the invoice calls the tax
    rate = models.DecimalField(max_digits=7, decimal_places=4)  # percent: 20.0000 = 20 %
    reverse_charge = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)  # printed on the invoice; a default for reverse charge
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["country", "account_id"]
        constraints = [
            models.CheckConstraint(
                name="tax_rate_account_xor_country",
                condition=(Q(account__isnull=False) & Q(country="")) | (Q(account__isnull=True) & ~Q(country="")),
            ),
            models.UniqueConstraint(fields=["country"], condition=~Q(country=""), name="tax_rate_country_uniq"),
            models.CheckConstraint(name="tax_rate_range", condition=Q(rate__gte=0) & Q(rate__lte=100)),
            models.CheckConstraint(
                name="tax_rate_reverse_charge_is_zero", condition=Q(reverse_charge=False) | Q(rate=0)
            ),
        ]

    def __str__(self) -> str:
        who = self.country or f"account {self.account_id}"
        return f"{self.name} {self.rate.normalize():f} % ({who})"
