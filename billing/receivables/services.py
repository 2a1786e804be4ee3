"""Operations that change where an invoice's money stands: payments, write-offs, reminders.

A payment is recorded under the invoice row's lock: the Payment row (unique per invoice and
reference: the same payment twice is recorded once), ``amount_paid`` moved by the same amount, and
— when nothing is left to pay — the move to ``paid`` (``billing.receivables.states``). Partial
payments leave the invoice ``open`` with a smaller ``amount_due``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.delivery.services import delivery_send, reminder_plan
from billing.invoices.models import Invoice, InvoiceStatus, PaymentStatus
from billing.moneylog import kinds
from billing.moneylog.services import row_act_record
from billing.receivables.models import InvoiceReminder, Payment, PaymentSource
from billing.receivables.states import PaymentStatusRefused, payment_status_move
from outcomeportal.core.money import ZERO, quantum
from outcomeportal.core.numbers import decimal_pattern

# A payment amount as written: plain ASCII digits, no sign or exponent (outcomeportal.core.numbers).
PAYMENT_AMOUNT_PATTERN = decimal_pattern(whole_digits=15, places=6)
_DECIMAL = re.compile(PAYMENT_AMOUNT_PATTERN)
FUTURE_TOLERANCE = timedelta(minutes=5)  # a payment's date may not be later than now (clocks differ a little)


class PaymentRefused(ValueError):
    """Why a payment cannot be recorded: ``code`` for the API, the message for people."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code, self.field = code, field


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    invoice: Invoice
    created: bool  # False: this reference was recorded already (the same payment again)


def payment_amount_parse(*, value: object, currency: str) -> Decimal:
    """A payment amount: a decimal string, positive, with at most the currency's places."""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise PaymentRefused("validation_error", 'A decimal string such as "120.00".', "amount")
    amount = Decimal(value)
    if not amount.is_finite() or amount <= 0:
        raise PaymentRefused("validation_error", "A positive amount.", "amount")
    if amount != amount.quantize(quantum(currency)):
        raise PaymentRefused("validation_error", f"At most the places of {currency}'s minor unit.", "amount")
    return amount


def invoice_payment_record(
    *,
    invoice: Invoice,
    amount: Decimal,
    paid_at: datetime,
    reference: str,
    source: str = PaymentSource.OPERATOR,
    created_by: str = "",
    now: datetime | None = None,
) -> Recorded:
    """Record a payment of a final invoice (partial or whole). Idempotent by ``reference``.

    Refused (:class:`PaymentRefused`): a draft or void invoice, nothing left to pay, more than the
    amount due, a date in the future, the same reference with a different amount.
    """
    now = now or timezone.now()
    reference = (reference or "").strip()
    if not reference:
        raise PaymentRefused("validation_error", "The payment's reference (bank or processor), to record it once.",
                             "reference")  # fmt: skip
    if paid_at > now + FUTURE_TOLERANCE:
        raise PaymentRefused("validation_error", "A payment cannot be dated in the future.", "paid_at")
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",)).select_related("account").get(pk=invoice.pk)
        existing = Payment.objects.filter(account_id=locked.account_id, invoice=locked, reference=reference).first()
        if existing is not None:
            if existing.amount != amount:
                raise PaymentRefused(
                    "payment_reference_conflict",
                    f"Reference {reference!r} is already recorded on {locked.number} for {existing.amount:f}.",
                    "reference",
                )
            return Recorded(payment=existing, invoice=locked, created=False)
        if locked.status == InvoiceStatus.DRAFT:
            raise PaymentRefused("invoice_not_final", "A draft invoice is not issued yet: nothing to pay.")
        if locked.payment_status in (PaymentStatus.VOID, PaymentStatus.PAID):
            raise PaymentRefused("invoice_not_payable", f"Invoice {locked.number} is {locked.payment_status}.")
        due = locked.amount_due
        if amount > due:
            raise PaymentRefused(
                "payment_exceeds_amount_due",
                f"{amount:f} is more than the {due.quantize(quantum(locked.currency)):f} due on {locked.number}.",
                "amount",
            )
        payment = Payment.objects.create(
            account_id=locked.account_id, invoice=locked, amount=amount, currency=locked.currency, paid_at=paid_at,
            reference=reference, source=source, created_at=now, created_by=created_by,
        )  # fmt: skip
        row_act_record(kind=kinds.INVOICE_PAID, view="payment", pk=payment.pk, account_id=locked.account_id)
        Invoice.objects.filter(pk=locked.pk).update(amount_paid=F("amount_paid") + amount)
        locked.refresh_from_db(fields=["amount_paid"])
        if locked.amount_due == ZERO:
            last = max(Payment.objects.filter(invoice=locked).values_list("paid_at", flat=True))
            payment_status_move(
                invoice=locked, to=PaymentStatus.PAID, at=now, by=created_by,
                reason=f"Paid in full ({reference})", paid_at=last,
            )  # fmt: skip
    return Recorded(payment=payment, invoice=locked, created=True)


def invoice_mark_uncollectible(
    *, invoice: Invoice, by: str = "", reason: str = "", now: datetime | None = None
) -> Invoice:
    """open → uncollectible: written off (still shown with what was due; a later payment makes it paid)."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Invoice.objects.select_for_update(of=("self",)).get(pk=invoice.pk)
        if locked.status == InvoiceStatus.DRAFT:
            raise PaymentStatusRefused("A draft invoice is not issued yet.")
        return payment_status_move(
            invoice=locked, to=PaymentStatus.UNCOLLECTIBLE, at=now, by=by, reason=reason, uncollectible_at=now
        )


# --- Overdue reminders -------------------------------------------------------------------------


def reminder_days() -> list[int]:
    """The reminder steps, in days after the due date (``PAYMENT_REMINDER_DAYS``, default 1, 7, 14)."""
    return sorted({int(d) for d in settings.PAYMENT_REMINDER_DAYS})


def reminders_send(*, now: datetime | None = None) -> int:
    """Email a reminder for every overdue invoice that reached a step it has not had; each step once.

    A step is taken by inserting its unique InvoiceReminder row; a job that was down takes every
    step that came due at once but sends only the latest. Returns the number of reminders planned.
    """
    now = now or timezone.now()
    steps = reminder_days()
    if not steps:
        return 0
    overdue = Invoice.objects.filter(
        payment_status=PaymentStatus.OPEN, due_at__lte=now - timedelta(days=steps[0])
    ).select_related("account")
    planned = 0
    for invoice in overdue.order_by("account_id", "due_at", "pk"):
        if invoice.amount_due <= ZERO:
            continue
        reached = [d for d in steps if invoice.due_at + timedelta(days=d) <= now]
        taken = set(InvoiceReminder.objects.filter(invoice=invoice).values_list("days_overdue", flat=True))
        new = [d for d in reached if d not in taken]
        if not new:
            continue
        with transaction.atomic():
            InvoiceReminder.objects.bulk_create(
                [InvoiceReminder(account_id=invoice.account_id, invoice=invoice, days_overdue=d, created_at=now,
                                 sent=False) for d in new[:-1]],
                ignore_conflicts=True,
            )  # fmt: skip
            try:
                with transaction.atomic():
                    InvoiceReminder.objects.create(
                        account_id=invoice.account_id, invoice=invoice, days_overdue=new[-1], created_at=now
                    )
            except IntegrityError:
                continue  # another worker took this step
            emails = reminder_plan(invoice=invoice, days_overdue=new[-1], now=now).emails
        for delivery_id in emails:
            delivery_send(delivery_id=delivery_id, now=now)
        planned += 1
    return planned
