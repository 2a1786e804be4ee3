"""Payments and the payment status's history: append-only rows (a trigger refuses UPDATE and DELETE).

An invoice's ``amount_paid`` is the sum of its payments, kept with them under the invoice row's
lock; its ``payment_status`` moves only through ``billing.receivables.states`` (one history row per
move). A processor's webhook event is remembered by its id, so a replay changes nothing.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account
from billing.invoices.models import Invoice, PaymentStatus


class PaymentSource(models.TextChoices):
    OPERATOR = "operator", "Recorded in the portal"
    API = "api", "Recorded over the API"
    WEBHOOK = "webhook", "Payment processor"


class Payment(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=18, decimal_places=4)  # positive, in the currency's minor unit
    currency = models.CharField(max_length=3)  # the invoice's
    paid_at = models.DateTimeField()  # when the money moved (as the payer or processor says)
    # The bank transfer's or processor's reference: a payment is recorded once per invoice and reference.
    reference = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=PaymentSource.choices)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["paid_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "invoice", "reference"], name="payment_reference_once"),
            models.CheckConstraint(name="payment_amount_positive", condition=Q(amount__gt=0)),
        ]
        indexes = [models.Index(fields=["account", "invoice"], name="payment_invoice_idx")]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} on invoice {self.invoice_id} ({self.reference})"


class PaymentStatusChange(models.Model):
    """One move of an invoice's payment status: from, to, when, by whom, why."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    from_status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    to_status = models.CharField(max_length=16, choices=PaymentStatus.choices)
    at = models.DateTimeField()
    by = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["account", "invoice"], name="payment_status_change_idx")]


class PaymentWebhookEvent(models.Model):
    """A processor's event, by its id: processed once; the same id again is a replay (refused)."""

    event_id = models.CharField(max_length=200, primary_key=True)
    type = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")


class InvoiceReminder(models.Model):
    """An overdue reminder step of an invoice (1, 7, 14 days after due…): taken once (unique)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="+")
    days_overdue = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()
    # False for a step that came due together with a later one (a job that was down): only the latest is sent.
    sent = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "invoice", "days_overdue"], name="invoice_reminder_once")
        ]
