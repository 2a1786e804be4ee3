"""The prepaid credit ledger (see billing.credits): every credit an account gains or spends, a row each.

Append-only (a trigger refuses UPDATE and DELETE, migration ``0003_credit_ledger``): a
correction is a new row (an ``adjustment``). The balance is the sum of ``credits``.
Each posting is idempotent by the unique (account, kind, reference): a finalized invoice posts
its grant, usage and expiry (or rollover note) with ``reference = "invoice:<id>"``, a top-up is
``"topup:<key>"`` (the form's one-time key), a dispute credit ``"dispute:<id>"``, the reversal of
an entry of a voided invoice ``"void:<entry id>"``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account


class CreditKind(models.TextChoices):
    BUNDLE_GRANT = "bundle_grant", "Included in the plan"
    ROLLOVER = "rollover", "Rolled over"
    TOPUP = "topup", "Top-up"
    USAGE = "usage", "Used by outcomes"
    EXPIRY = "expiry", "Expired"
    DISPUTE_CREDIT = "dispute_credit", "Dispute credit"
    ADJUSTMENT = "adjustment", "Adjustment"
    REVERSAL = "reversal", "Reversed: its invoice was voided"


# Entries that feed the prepaid balance of their period (pricing.PrepaidIn): used after the
# plan's credits, never expire. The others are posted by a finalized invoice — and taken back,
# each by a ``reversal`` of the opposite sign, when that invoice is voided: a reversal counts in the
# balance (the sum of the ledger) and in no period's pricing (the reissued invoice posts anew).
PREPAID_KINDS = (CreditKind.TOPUP, CreditKind.DISPUTE_CREDIT, CreditKind.ADJUSTMENT)
INVOICE_KINDS = (CreditKind.BUNDLE_GRANT, CreditKind.USAGE, CreditKind.EXPIRY, CreditKind.ROLLOVER)


class CreditLedgerEntry(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField()
    kind = models.CharField(max_length=16, choices=CreditKind.choices)
    # Signed: + adds to the balance, − takes from it; 0 for a rollover note. 4 places, like line credits.
    credits = models.DecimalField(max_digits=18, decimal_places=4)
    # Money paid for the credits (top-ups), rounded once to the currency (outcomeportal.core.money); else null.
    amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    # The billing period (YYYY-MM) whose invoice counts the entry: a top-up's credits are available
    # from that period on and its price is a line of that period's invoice.
    period = models.CharField(max_length=7)
    # Plain ids (disputes is downstream; invoices are referenced like credit notes reference events).
    invoice_id = models.BigIntegerField(null=True, blank=True)  # the invoice that charges or posts it
    dispute_id = models.BigIntegerField(null=True, blank=True)
    reference = models.CharField(max_length=80)  # idempotency key: "invoice:12", "topup:<key>", "dispute:7"
    note = models.TextField(blank=True)  # plain words for the customer
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "reference"], name="credit_entry_once"),
            models.CheckConstraint(
                name="credit_entry_sign",
                condition=(
                    Q(kind__in=["bundle_grant", "topup", "dispute_credit"], credits__gt=0)
                    | Q(kind__in=["usage", "expiry"], credits__lte=0)
                    | Q(kind="rollover", credits=0)
                    | Q(kind__in=["adjustment", "reversal"])
                ),
            ),
            models.CheckConstraint(
                name="credit_topup_paid", condition=~Q(kind="topup") | Q(amount__isnull=False, amount__gte=0)
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at", "-id"], name="credit_entry_account_idx"),
            models.Index(fields=["account", "period"], name="credit_entry_period_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.credits} ({self.reference})"
