"""A Delivery: one document (or reminder) to one recipient, by email or webhook, with its attempts.

Rows are planned by the worker after the document is committed (never inside the finalizing
transaction), one per (account, reference, kind, recipient) — a unique key, so planning twice
sends nothing twice. An email is tried by ``billing.delivery.services.delivery_send`` with a
backoff until it is sent or out of attempts (``failed``: shown to the vendor, who may send it
again). A webhook row mirrors the accounts app's ``WebhookDelivery`` (which signs, retries and
logs every attempt); its status is read from there.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from accounts.models import Account
from billing.invoices.models import CreditNote, Invoice


class DeliveryKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not sent yet, or waiting for its next attempt
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # out of attempts: shown to the vendor, never dropped


class Delivery(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False)
    # What is sent: "invoice.finalized", "credit_note.issued", "invoice.overdue" (a payment reminder).
    event = models.CharField(max_length=40)
    # Idempotency: "invoice:12", "credit_note:5", "reminder:12:7" (invoice 12, 7 days overdue).
    reference = models.CharField(max_length=80)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    credit_note = models.ForeignKey(CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=16, choices=DeliveryKind.choices)
    recipient = models.CharField(max_length=2048)  # an email address, or the webhook endpoint's URL
    # A webhook's delivery in accounts (a plain id: the row and its attempt log live there).
    webhook_delivery_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "reference", "kind", "recipient"], name="delivery_once"),
            models.CheckConstraint(
                name="delivery_has_document", condition=Q(invoice__isnull=False) | Q(credit_note__isnull=False)
            ),
        ]
        indexes = [
            models.Index(fields=["account", "invoice"], name="delivery_invoice_idx"),
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.event} by {self.kind} to {self.recipient} ({self.status})"
