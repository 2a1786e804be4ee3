"""Disputes: a customer contests charged events; support resolves them within an SLA; credits follow.

Invariants are held by the database, not by ``save()``:

* an event is in at most one *open* dispute — a partial unique index on open dispute items;
* an event is credited at most once, ever — a unique constraint on the credit ledger;
* one credit note per dispute — billing's ``CreditNote.dispute_id`` is unique;
* the credit ledger and the audit trail are append-only (triggers refuse UPDATE and DELETE).

Cross-app foreign keys point left (accounts, metering, billing) with ``related_name="+"``.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account, User
from billing.invoices.models import CreditNote, Invoice
from metering.models import Event


class DisputeStatus(models.TextChoices):
    """The contract's status words (api-v1.md)."""

    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially_approved", "Partially approved"
    REJECTED = "rejected", "Rejected"


class ReasonCode(models.TextChoices):
    """Why the customer contests the charge (the contract's words)."""

    NOT_RESOLVED = "not_resolved", "It was not actually resolved"
    HUMAN_HANDOFF = "human_handoff", "A person had to take over"
    DUPLICATE = "duplicate", "It was counted twice"
    OUTSIDE_DEFINITION = "outside_definition", "Outside our agreed definition of success"
    TEST_USAGE = "test_usage", "Test or sandbox usage"
    OTHER = "other", "Something else"


class CreditState(models.TextChoices):
    """Where the money of an approved dispute is. Moved only by :mod:`disputes.services`."""

    NONE = "none", "Nothing to credit"  # open or rejected
    PENDING = "pending", "Credit being issued"  # approved; the issue_credits job has not run for it yet
    ISSUED = "issued", "Credited"


class DisputeTerms(models.Model):
    """An account's agreed dispute terms. Billing's contract terms have no SLA field, so the
    per-account SLA lives here (the default is ``settings.DISPUTES_SLA_HOURS``, 48 h)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="+")
    sla_hours = models.PositiveIntegerField(help_text="Hours support has to answer a dispute of this account.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "dispute terms"
        constraints = [models.CheckConstraint(name="dispute_terms_sla_positive", condition=Q(sla_hours__gt=0))]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.sla_hours} h"


class Dispute(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(max_length=24, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    reason_code = models.CharField(max_length=32, choices=ReasonCode.choices)
    message = models.TextField()  # the customer's words, shown to support
    # The invoice line it was filed from (if any), and the finalized invoice its events were billed
    # on when filed (None: not yet invoiced — they are on the upcoming draft). Only finalized
    # invoices are referenced by key: they are never deleted.
    # A plain id, not a foreign key: a draft's lines are replaced as it is recomputed.
    invoice_line_id = models.BigIntegerField(null=True, blank=True)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period = models.CharField(max_length=7)  # YYYY-MM of its events, in the account's time zone
    currency = models.CharField(max_length=3)
    # Sum of the events' amounts when filed (per-event precision, 6 places): what the customer contests.
    amount_at_stake = models.DecimalField(max_digits=18, decimal_places=6)
    filed_at = models.DateTimeField()
    filed_by = models.CharField(max_length=150)  # the principal's label: a username or an API key's name
    filed_by_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    filed_via = models.CharField(max_length=8, default="app")  # app | api
    sla_hours = models.PositiveIntegerField()  # the SLA that applied when filed
    sla_due_at = models.DateTimeField()
    sla_warned_at = models.DateTimeField(null=True, blank=True)  # support told the SLA is close (once)
    assignee = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)
    resolved_by_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    resolution_note = models.TextField(blank=True)  # shown to the customer
    credit_state = models.CharField(max_length=16, choices=CreditState.choices, default=CreditState.NONE)
    # The money given back, rounded to the currency (set by the issue_credits job; never changed after).
    credited_amount = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    credited_at = models.DateTimeField(null=True, blank=True)
    credit_note = models.ForeignKey(CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # Contracts priced in credits: the credits given back (to the prepaid balance, or not drawn). Null: none.
    credited_credits = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)

    class Meta:
        ordering = ["-filed_at", "-id"]
        indexes = [
            models.Index(fields=["account", "-filed_at"], name="dispute_account_recent_idx"),
            # The support queue: open disputes by SLA due time.
            models.Index(fields=["sla_due_at"], name="dispute_open_sla_idx", condition=Q(status="open")),
            models.Index(fields=["resolved_at"], name="dispute_resolved_idx", condition=~Q(status="open")),
            models.Index(
                fields=["credit_state"], name="dispute_credit_pending_idx", condition=Q(credit_state="pending")
            ),
        ]
        constraints = [
            models.CheckConstraint(name="dispute_status_word", condition=Q(status__in=DisputeStatus.values)),
            models.CheckConstraint(name="dispute_reason_word", condition=Q(reason_code__in=ReasonCode.values)),
            models.CheckConstraint(
                name="dispute_resolved_iff_not_open",
                condition=(Q(status="open") & Q(resolved_at__isnull=True))
                | (~Q(status="open") & Q(resolved_at__isnull=False)),
            ),
            models.CheckConstraint(
                name="dispute_credit_only_when_approved",
                condition=Q(credit_state="none") | Q(status__in=["approved", "partially_approved"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == DisputeStatus.OPEN


class ItemDecision(models.TextChoices):
    NONE = "", "Not decided yet"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class DisputeItem(models.Model):
    """One disputed event of a dispute."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="items")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)  # the event's, when filed
    status_at_filing = models.CharField(max_length=16)  # billable | invoiced
    is_open = models.BooleanField(default=True)  # False once the dispute is resolved
    decision = models.CharField(max_length=16, choices=ItemDecision.choices, blank=True, default="")

    class Meta:
        ordering = ["dispute", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dispute", "event"], name="dispute_item_event_uniq"),
            # An event is in at most one open dispute: the database says so, not a check before insert.
            models.UniqueConstraint(fields=["event"], condition=Q(is_open=True), name="dispute_item_open_once"),
        ]


class CreditMethod(models.TextChoices):
    EXCLUSION = "exclusion", "Left the upcoming invoice (not yet invoiced)"
    CREDIT_NOTE = "credit_note", "Credit note on a finalized invoice"
    CREDITS = "credits", "Credits back to the prepaid balance (a contract priced in credits)"
    NO_CHARGE = "no_charge", "Nothing to give back (no money was charged for it)"


class DisputeCredit(models.Model):
    """The credit ledger: one row per credited event. Append-only; unique per event, so an event is
    never credited twice — whatever reruns, crashes or second workers do."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="credits")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+", db_index=False)  # unique below
    method = models.CharField(max_length=16, choices=CreditMethod.choices)
    amount = models.DecimalField(max_digits=18, decimal_places=6)  # the event's amount given back (6 places)
    credits = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)  # credits given back
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    credit_note = models.ForeignKey(CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["dispute", "id"]
        constraints = [
            models.UniqueConstraint(fields=["event"], name="dispute_credit_event_once"),
        ]


class DisputeComment(models.Model):
    """The thread of a dispute. Internal notes are support's alone: never shown to the customer."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="comments")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    author = models.CharField(max_length=150)
    author_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_support = models.BooleanField(default=False)
    internal = models.BooleanField(default=False)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="dispute_comment_internal_is_support", condition=Q(internal=False) | Q(from_support=True)
            )
        ]


class Subject(models.TextChoices):
    DISPUTE = "dispute", "Dispute"
    CREDIT = "credit", "Credit"
    CREDIT_NOTE = "credit_note", "Credit note"
    CREDITS = "credits", "Credits"
    EVENT = "event", "Event"
    ASSIGNEE = "assignee", "Assignee"


class DisputeHistory(models.Model):
    """The audit trail: every state change of a dispute, its credit, credit note and events —
    who, when, from → to. Append-only (a trigger refuses UPDATE and DELETE)."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="history")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    subject = models.CharField(max_length=16, choices=Subject.choices)
    subject_ref = models.CharField(max_length=128, blank=True)  # the event_id, credit note number, …
    from_state = models.CharField(max_length=64, blank=True)
    to_state = models.CharField(max_length=64)
    actor = models.CharField(max_length=150)
    actor_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "dispute history"
        constraints = [
            # A credit note's application to an invoice is recorded once (the job may see it many times).
            models.UniqueConstraint(
                fields=["dispute", "subject_ref", "to_state"],
                condition=Q(subject="credit_note"),
                name="dispute_history_credit_note_once",
            )
        ]
