"""The payment status of a final invoice as a state machine: the table of moves, and the one
function that makes a move (a conditional UPDATE that must touch the row, and a history row).

    open ──────────► paid            payments reached the amount due
      │ ╲
      │  ╲─────────► uncollectible   written off; a payment arriving later still makes it paid
      ▼
    void                             the invoice was voided (billing.services.invoice_void)
"""

from __future__ import annotations

from datetime import datetime

from billing.invoices.models import Invoice, PaymentStatus
from billing.receivables.models import PaymentStatusChange

MOVES: dict[str, frozenset[str]] = {
    PaymentStatus.OPEN: frozenset({PaymentStatus.PAID, PaymentStatus.UNCOLLECTIBLE, PaymentStatus.VOID}),
    PaymentStatus.UNCOLLECTIBLE: frozenset({PaymentStatus.PAID, PaymentStatus.VOID}),
    PaymentStatus.PAID: frozenset(),
    PaymentStatus.VOID: frozenset(),
}


class PaymentStatusRefused(ValueError):
    """A move the table does not allow (or the invoice moved meanwhile)."""


def payment_status_move(
    *, invoice: Invoice, to: str, at: datetime, by: str = "", reason: str = "", **columns
) -> Invoice:
    """Move ``invoice`` from the status it has to ``to``; call inside a transaction, the row locked.

    ``columns`` are set in the same UPDATE (``paid_at``, ``uncollectible_at``…).
    """
    current = invoice.payment_status
    if to not in MOVES.get(current, frozenset()):
        raise PaymentStatusRefused(f"Invoice {invoice.number} is {current}: it cannot become {to}.")
    updated = Invoice.objects.filter(pk=invoice.pk, payment_status=current).update(payment_status=to, **columns)
    if updated != 1:
        raise PaymentStatusRefused(f"Invoice {invoice.number} changed meanwhile; try again.")
    PaymentStatusChange.objects.create(
        account_id=invoice.account_id, invoice=invoice, from_status=current, to_status=to, at=at, by=by, reason=reason
    )
    invoice.payment_status = to
    for key, value in columns.items():
        setattr(invoice, key, value)
    return invoice
