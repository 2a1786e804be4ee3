"""Vendor pages of collection: receivables by age; recording a payment or a write-off on an invoice."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import Perm, Principal
from accounts.permissions import principal_of
from billing.receivables.selectors import BUCKETS, receivables
from billing.receivables.services import (
    PaymentRefused,
    invoice_mark_uncollectible,
    invoice_payment_record,
    payment_amount_parse,
    reminder_days,
)
from billing.receivables.states import PaymentStatusRefused
from billing.selectors import invoice_get_for_principal
from outcomeportal.core.money import money_display

LABELS = {key: label for key, label, _ in BUCKETS}


def _vendor(request, perm: Perm) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(perm):
        raise PermissionDenied
    return principal


@login_required
@require_GET
def receivables_page(request):
    """Open invoices, oldest due first, and what is owed by currency and age past the due date."""
    _vendor(request, Perm.ALL_ACCOUNTS)
    now = timezone.now()
    data = receivables(now=now)
    totals = [
        {"currency": currency, "buckets": [(label, money_display(amounts[key], currency)) for key, label, _ in BUCKETS],
         "total": money_display(sum(amounts.values()), currency)}
        for currency, amounts in sorted(data.by_currency.items())
    ]  # fmt: skip
    rows = [
        {"invoice": r.invoice, "days_overdue": r.days_overdue, "bucket": LABELS[r.bucket],
         "total": money_display(r.invoice.total_with_tax, r.invoice.currency),
         "paid": money_display(r.invoice.amount_paid, r.invoice.currency),
         "due": money_display(r.invoice.amount_due, r.invoice.currency)}
        for r in data.rows
    ]  # fmt: skip
    written_off = [money_display(amount, currency) for currency, amount in sorted(data.uncollectible.items())]
    return render(
        request,
        "billing/receivables.html",
        {"totals": totals, "rows": rows, "overdue": data.overdue_count, "written_off": written_off,
         "buckets": [label for _, label, _ in BUCKETS], "reminder_days": reminder_days()},
    )  # fmt: skip


def _back(invoice) -> str:
    return f"/account/{invoice.account.external_id}/invoices/{invoice.pk}/"


@login_required
@require_POST
def payment_record(request, invoice_id: int):
    """An operator records a payment received (a bank transfer, a cheque…) on an invoice."""
    principal = _vendor(request, Perm.RECEIVABLES_MANAGE)
    invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
    form = request.POST
    try:
        amount = payment_amount_parse(value=form.get("amount", "").strip(), currency=invoice.currency)
    except PaymentRefused as exc:
        messages.error(request, f"Payment not recorded: the amount: {exc}")
        return redirect(_back(invoice))
    try:
        paid_on = date.fromisoformat(form.get("paid_on", ""))
    except ValueError:
        messages.error(request, "Payment not recorded: the date the money arrived, YYYY-MM-DD.")
        return redirect(_back(invoice))
    # A day in the account's time zone: the payment is dated at noon there (the bank says a day, not a time).
    paid_at = datetime.combine(paid_on, time(12), tzinfo=ZoneInfo(invoice.account.timezone))
    try:
        recorded = invoice_payment_record(
            invoice=invoice, amount=amount, paid_at=min(paid_at, timezone.now()), reference=form.get("reference", ""),
            created_by=principal.label,
        )  # fmt: skip
    except PaymentRefused as exc:
        messages.error(request, f"Payment not recorded: {exc}")
        return redirect(_back(invoice))
    inv = recorded.invoice
    if not recorded.created:
        messages.info(request, f"Reference {recorded.payment.reference} was recorded already: nothing changed.")
    else:
        messages.success(
            request,
            f"Payment of {money_display(amount, inv.currency)} recorded. Invoice {inv.number} is {inv.payment_status}; "
            f"{money_display(inv.amount_due, inv.currency)} due.",
        )
    return redirect(_back(invoice))


@login_required
@require_POST
def mark_uncollectible(request, invoice_id: int):
    principal = _vendor(request, Perm.RECEIVABLES_MANAGE)
    invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
    try:
        invoice_mark_uncollectible(invoice=invoice, by=principal.label, reason=request.POST.get("reason", ""))
    except PaymentStatusRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Invoice {invoice.number} written off as uncollectible.")
    return redirect(_back(invoice))
