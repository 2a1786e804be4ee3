"""Delivering invoices, credit notes and payment reminders: email with the PDF, and signed webhooks.

Everything here runs in the worker (django-q2, ``billing.tasks``), after the document was
committed — finalizing enqueues ``billing.tasks.invoice_deliver`` with ``transaction.on_commit``,
so a slow mail server never holds an invoice's transaction, and a rolled-back finalization sends
nothing.

1. ``*_deliver`` plans the deliveries: one :class:`Delivery` per billing email (an account with none
   is written to its customer and finance admins instead) and one per active webhook endpoint —
   idempotent by the unique (account, reference, kind, recipient);
2. each email is sent by :func:`delivery_send` (Django's email backend): sent, or retried with a
   backoff (1, 2, 4, 8, 16 minutes) by the ``deliveries_retry`` schedule, and after the last
   attempt ``failed`` — shown on the vendor's Deliveries page, where it can be sent again;
3. webhooks (``invoice.finalized``, ``credit_note.issued``) go through
   ``accounts.notify.webhooks_enqueue``: signed ``OutcomePortal-Signature``, retried, every attempt
   logged there; the Delivery row points at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Role, User, WebhookDelivery
from accounts.notify import webhooks_enqueue
from billing import pdf, presenters
from billing.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from billing.invoices.document import Party
from billing.invoices.models import CreditNote, Invoice, InvoiceStatus
from billing.invoices.parties import buyer_party, seller_party
from billing.selectors import credit_note_event_ids
from outcomeportal.core.money import money_display

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(minutes=1)  # then doubled: 1, 2, 4, 8, 16 minutes

INVOICE_FINALIZED = "invoice.finalized"
CREDIT_NOTE_ISSUED = "credit_note.issued"
INVOICE_OVERDUE = "invoice.overdue"


class DeliveryRefused(ValueError):
    pass


@dataclass(frozen=True)
class Planned:
    emails: list[int]  # Delivery ids to send now
    webhooks: int


def billing_recipients(*, account: Account) -> list[str]:
    """Where the account's invoices go: its billing emails, else its customer and finance admins."""
    if account.billing_emails:
        return list(account.billing_emails)
    admins = User.objects.filter(
        account=account, is_active=True, role__in=[Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN]
    ).exclude(email="")
    return sorted({email.lower() for email in admins.values_list("email", flat=True)})


def _plan(
    *, account: Account, event: str, reference: str, recipients: list[str], now: datetime, invoice=None,
    credit_note=None, webhook_payload: dict | None = None,
) -> Planned:  # fmt: skip
    """Delivery rows for every recipient (and webhook endpoint), once per reference."""
    Delivery.objects.bulk_create(
        [
            Delivery(account=account, event=event, reference=reference, invoice=invoice, credit_note=credit_note,
                     kind=DeliveryKind.EMAIL, recipient=email, created_at=now, next_attempt_at=now)
            for email in recipients
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    webhooks = 0
    if webhook_payload is not None:
        with transaction.atomic():
            ids = webhooks_enqueue(
                account_id=account.pk, event_type=event, message_id=f"{event}:{reference}", payload=webhook_payload,
                now=now,
            )  # fmt: skip
            rows = WebhookDelivery.objects.filter(pk__in=ids).select_related("endpoint")
            Delivery.objects.bulk_create(
                [
                    Delivery(account=account, event=event, reference=reference, invoice=invoice,
                             credit_note=credit_note, kind=DeliveryKind.WEBHOOK, recipient=row.endpoint.url,
                             webhook_delivery_id=row.pk, created_at=now)
                    for row in rows
                ],
                ignore_conflicts=True,
            )  # fmt: skip
            webhooks = len(ids)
    emails = list(
        Delivery.objects.filter(
            account=account, reference=reference, kind=DeliveryKind.EMAIL, status=DeliveryStatus.PENDING,
            attempts=0,
        ).values_list("pk", flat=True)
    )  # fmt: skip
    return Planned(emails=emails, webhooks=webhooks)


def invoice_deliver(*, invoice_id: int, now: datetime | None = None) -> Planned:
    """Email a finalized invoice to the account's billing emails and announce it by webhook. Idempotent."""
    now = now or timezone.now()
    invoice = Invoice.objects.select_related("account").filter(pk=invoice_id).first()
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        return Planned(emails=[], webhooks=0)
    planned = _plan(
        account=invoice.account, event=INVOICE_FINALIZED, reference=f"invoice:{invoice.pk}",
        recipients=billing_recipients(account=invoice.account), now=now, invoice=invoice,
        webhook_payload={"invoice": presenters.invoice_summary_dict(invoice)},
    )  # fmt: skip
    for delivery_id in planned.emails:
        delivery_send(delivery_id=delivery_id, now=now)
    return planned


def credit_note_deliver(*, credit_note_id: int, now: datetime | None = None) -> Planned:
    """Email a credit note (its own PDF) and announce it as ``credit_note.issued``. Idempotent."""
    now = now or timezone.now()
    note = CreditNote.objects.select_related("account").filter(pk=credit_note_id).first()
    if note is None:
        return Planned(emails=[], webhooks=0)
    planned = _plan(
        account=note.account, event=CREDIT_NOTE_ISSUED, reference=f"credit_note:{note.pk}",
        recipients=billing_recipients(account=note.account), now=now, credit_note=note,
        invoice=Invoice.objects.filter(pk=note.invoice_id).first() if note.invoice_id else None,
        webhook_payload={
            "credit_note": presenters.credit_note_dict(note, event_ids=credit_note_event_ids(notes=[note])[note.pk])
        },
    )  # fmt: skip
    for delivery_id in planned.emails:
        delivery_send(delivery_id=delivery_id, now=now)
    return planned


def reminder_plan(*, invoice: Invoice, days_overdue: int, now: datetime) -> Planned:
    """A payment reminder for ``invoice`` at ``days_overdue`` days: once per (invoice, days) and recipient."""
    return _plan(
        account=invoice.account, event=INVOICE_OVERDUE, reference=f"reminder:{invoice.pk}:{days_overdue}",
        recipients=billing_recipients(account=invoice.account), now=now, invoice=invoice,
    )  # fmt: skip


# --- Sending one email ------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """Try one email delivery if it is pending and due; record the outcome; schedule a retry on failure."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account", "invoice", "credit_note")
            .filter(pk=delivery_id, kind=DeliveryKind.EMAIL, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return "skipped"  # sent already, given up, or another worker has it right now
        try:
            _email(delivery).send(fail_silently=False)
        except Exception as exc:
            delivery.attempts += 1
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if delivery.attempts >= MAX_ATTEMPTS:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, None
            else:
                delivery.next_attempt_at = now + FIRST_RETRY * (2 ** (delivery.attempts - 1))
        else:
            delivery.attempts += 1
            delivery.status, delivery.sent_at, delivery.next_attempt_at = DeliveryStatus.SENT, now, None
            delivery.last_error = ""
        delivery.save(update_fields=["attempts", "status", "sent_at", "next_attempt_at", "last_error"])
        return delivery.status


def deliveries_retry_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Send every pending email whose next attempt is due (the backoff schedule)."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(kind=DeliveryKind.EMAIL, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        delivery_send(delivery_id=delivery_id, now=now)
    return len(due)


def delivery_retry(*, delivery: Delivery, now: datetime | None = None) -> Delivery:
    """A failed email, pending again with fresh attempts (the vendor's "Send again"); sent by the worker."""
    now = now or timezone.now()
    if delivery.kind != DeliveryKind.EMAIL:
        raise DeliveryRefused("Webhooks are retried by their own schedule (accounts.notify).")
    updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.FAILED).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now
    )
    if updated != 1:
        raise DeliveryRefused("Only a failed delivery can be sent again.")
    return Delivery.objects.get(pk=delivery.pk)


def _link(path: str) -> str:
    base = settings.PORTAL_BASE_URL.rstrip("/")
    return f"{base}{path}" if base else ""


def _email(delivery: Delivery) -> EmailMessage:
    account = delivery.account
    if delivery.credit_note_id:
        note = delivery.credit_note
        seller, buyer = seller_party(vendor_id=account.vendor_id), buyer_party(account=account)
        invoice_number = delivery.invoice.number if delivery.invoice_id else None
        context = {"note": note, "seller": seller, "buyer": buyer, "invoice_number": invoice_number,
                   "amount": money_display(note.amount, note.currency)}  # fmt: skip
        subject = f"Credit note {note.number} from {seller.name}"
        body = render_to_string("billing/email/credit_note.txt", context)
        message = _message(subject, body, delivery.recipient, seller)
        document = pdf.credit_note_pdf(note, seller=seller, buyer=buyer, invoice_number=invoice_number)
        message.attach(f"{note.number}.pdf", document, "application/pdf")
        return message
    invoice = delivery.invoice
    seller = Party.from_dict(invoice.seller or {})
    link = _link(reverse("billing:invoice", args=[account.external_id, invoice.pk]))
    context = {
        "invoice": invoice, "seller": seller, "link": link, "reminder": delivery.event == INVOICE_OVERDUE,
        "totals": presenters.invoice_totals(invoice), "dates": presenters.invoice_dates(invoice),
        "amount_due": money_display(invoice.amount_due, invoice.currency),
    }  # fmt: skip
    due = context["dates"][1][1] if invoice.due_at else ""
    if delivery.event == INVOICE_OVERDUE:
        subject = f"Reminder: invoice {invoice.number} is overdue — {context['amount_due']} due since {due}"
    else:
        subject = f"Invoice {invoice.number} from {seller.name} — {context['amount_due']} due {due}"
    message = _message(subject, render_to_string("billing/email/invoice.txt", context), delivery.recipient, seller)
    message.attach(f"{invoice.number}.pdf", pdf.invoice_pdf(invoice), "application/pdf")
    return message


def _message(subject: str, body: str, recipient: str, seller: Party) -> EmailMessage:
    reply_to = list(seller.emails) or None
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient], reply_to=reply_to)


__all__ = [
    "CREDIT_NOTE_ISSUED",
    "INVOICE_FINALIZED",
    "INVOICE_OVERDUE",
    "DeliveryRefused",
    "credit_note_deliver",
    "deliveries_retry_due",
    "delivery_retry",
    "delivery_send",
    "invoice_deliver",
    "reminder_plan",
]
