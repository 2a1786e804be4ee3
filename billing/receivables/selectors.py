"""What the vendor is owed: open invoices by age past their due date, and an invoice's payments."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet

from billing.invoices.models import Invoice, PaymentStatus
from billing.receivables.models import Payment, PaymentStatusChange
from outcomeportal.core.money import ZERO

# Days past due → bucket, in order. "current" is not due yet.
BUCKETS = (("current", "Not yet due", None), ("1-30", "1–30 days", 30), ("31-60", "31–60 days", 60),
           ("61-90", "61–90 days", 90), ("90+", "Over 90 days", None))  # fmt: skip


def age_bucket(*, days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    for key, _, upper in BUCKETS[1:-1]:
        if days_overdue <= upper:
            return key
    return "90+"


@dataclass
class ReceivableRow:
    invoice: Invoice
    days_overdue: int
    bucket: str


@dataclass
class Receivables:
    rows: list[ReceivableRow]
    # currency → bucket → amount due (every bucket present, 0 where nothing is owed)
    by_currency: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    overdue_count: int = 0
    uncollectible: dict[str, Decimal] = field(default_factory=dict)  # currency → amount written off


def receivables(*, now: datetime, account_id: int | None = None) -> Receivables:
    """Every open invoice with something to pay, oldest due first, and the totals by currency and age."""
    qs: QuerySet[Invoice] = Invoice.objects.filter(payment_status=PaymentStatus.OPEN).select_related("account")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    result = Receivables(rows=[])
    for invoice in qs.order_by("due_at", "pk"):
        if invoice.amount_due <= ZERO:
            continue
        days = (now - invoice.due_at).days if invoice.due_at and invoice.due_at <= now else 0
        if invoice.due_at and invoice.due_at <= now:
            days = max(days, 1)  # any part of a day past due counts as overdue
            result.overdue_count += 1
        bucket = age_bucket(days_overdue=days)
        result.rows.append(ReceivableRow(invoice=invoice, days_overdue=days, bucket=bucket))
        totals = result.by_currency.setdefault(invoice.currency, {key: ZERO for key, _, _ in BUCKETS})
        totals[bucket] += invoice.amount_due
    written_off = Invoice.objects.filter(payment_status=PaymentStatus.UNCOLLECTIBLE)
    if account_id is not None:
        written_off = written_off.filter(account_id=account_id)
    for invoice in written_off:
        result.uncollectible[invoice.currency] = result.uncollectible.get(invoice.currency, ZERO) + invoice.amount_due
    return result


def invoice_payments(*, invoice: Invoice) -> list[Payment]:
    return list(Payment.objects.filter(account_id=invoice.account_id, invoice=invoice).order_by("paid_at", "id"))


def invoice_status_history(*, invoice: Invoice) -> list[PaymentStatusChange]:
    return list(PaymentStatusChange.objects.filter(account_id=invoice.account_id, invoice=invoice))
