"""Writing the charge ledger: new charges at ingestion, and every move of a charge after it.

Each move is one conditional statement over a set of events: a charge no longer in the expected
state is left alone, so a rerun (or a race with invoicing) never moves a charge twice.

    estimated ──settled──▶ rated ──finalized──▶ invoiced ──dispute filed──▶ disputed
    (settling rates charges in settlement's own statement: billing.ingestion.outcomes_settle)
    estimated ──confirmed inside the window──▶ rated
    estimated ──ruled out by a signal──▶ void                 disputed ──rejected──▶ invoiced
    invoiced | disputed ──credit note──▶ credited   (stays on its final invoice line)
    invoiced ──its invoice voided──▶ rated, off the line (invoiced again by the reissued invoice)
    estimated | rated, not on a line ──credited after a dispute──▶ credited, reason dispute_credited
    rated, not on a line ──deducted after the window──▶ credited, reason deducted

Invoicing's moves (selection, freezing, stamping) are set-based SQL of their own:
:mod:`billing.invoices.selection`. Every write and move is recorded in the money log
(:mod:`billing.moneylog`), one entry per batch or move, never per charge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection

from billing.ledger.models import ChargeReason, ChargeState
from billing.moneylog import kinds
from billing.moneylog.services import (
    charges_moved,
    charges_released_record,
    charges_summary_sql,
    charges_written_record,
)
from metering.services import session_claims_release
from outcomeportal.core.copy_text import flag, number, text

_COLUMNS = (
    "event_id",
    "account_id",
    "outcome_type_id",
    "occurred_at",
    "complexity",
    "value_amount",
    "attempt",
    "contract_version_id",
    "amount",
    "credits",
    "currency",
    "state",
    "reason",
)


@dataclass(slots=True)
class NewCharge:
    """A charge being made for a freshly stored event, before it is written (one per event)."""

    pk: int  # the event's
    account_id: int
    outcome_type_id: int
    event_id: str
    occurred_at: datetime
    status: str  # metering's decision: pending, billable, or non_billable for an attempt
    complexity: str
    reason: str  # metering's reason (an attempt's)
    value_amount: Decimal | None
    currency: str
    occurred_at_iso: str = ""  # as metering stored it: the COPY sends it as is (no datetime to adapt)
    contract_version_id: int | None = None
    terms: object = None  # the version's terms (billing.contracts.Terms), read once for every step
    amount: Decimal | None = None
    credits: Decimal | None = None
    charge_reason: str = ChargeReason.NONE

    @property
    def attempt(self) -> bool:
        return self.status == "non_billable"

    @property
    def state(self) -> str:
        return ChargeState.ESTIMATED if self.status == "pending" else ChargeState.RATED


def charges_write(charges: list[NewCharge]) -> None:
    """Write new charges (``COPY``, one round trip for a batch), in event order."""
    if not charges:
        return
    rows = "".join(
        f"{c.pk}\t{c.account_id}\t{c.outcome_type_id}\t{c.occurred_at_iso or c.occurred_at.isoformat()}\t"
        f"{text(c.complexity)}\t{number(c.value_amount)}\t{flag(c.attempt)}\t{number(c.contract_version_id)}\t"
        f"{number(c.amount)}\t{number(c.credits)}\t{c.currency}\t{c.state}\t{c.charge_reason}\n"
        for c in sorted(charges, key=lambda c: c.pk)
    )
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY billing_charge ({', '.join(_COLUMNS)}) FROM STDIN") as copy,
    ):
        copy.write(rows.encode())
    charges_written_record(charges)  # the money log: one entry for the batch


def _ids_update(sql: str, event_ids: Iterable[int], params: dict | None = None) -> list[int]:
    ids = sorted({int(i) for i in event_ids})
    if not ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, {"ids": ids, **(params or {})})
        return sorted(row[0] for row in cursor.fetchall())


@charges_moved(kinds.CHARGES_VOIDED)
def charges_void(*, event_ids: Iterable[int]) -> list[int]:
    """Their outcomes were ruled out inside the window (a signal): the charge is void, costs nothing."""
    return _ids_update(
        "UPDATE billing_charge SET state = 'void' WHERE event_id = ANY(%(ids)s) AND state IN ('estimated', 'rated') "
        "AND invoice_line_id IS NULL RETURNING event_id",
        event_ids,
    )


@charges_moved(kinds.CHARGES_SETTLED)
def charges_settled(*, event_ids: Iterable[int]) -> list[int]:
    """Their outcomes settled billable outside settlement's run (a confirmation closed the window):
    ``estimated`` → ``rated``, so the invoice bills them."""
    return _ids_update(
        "UPDATE billing_charge SET state = 'rated' WHERE event_id = ANY(%(ids)s) AND state = 'estimated' "
        "RETURNING event_id",
        event_ids,
    )


@charges_moved(kinds.CHARGES_DISPUTED)
def charges_dispute_open(*, event_ids: Iterable[int]) -> list[int]:
    """Invoiced charges under an open dispute: ``invoiced`` → ``disputed``. Returns the event ids moved.

    Charges not yet on an invoice stay as they are: on the draft (still charged) until the dispute
    is resolved.
    """
    return _ids_update(
        "UPDATE billing_charge SET state = 'disputed' WHERE event_id = ANY(%(ids)s) AND state = 'invoiced' "
        "RETURNING event_id",
        event_ids,
    )


@charges_moved(kinds.CHARGES_DISPUTE_REJECTED)
def charges_dispute_close(*, event_ids: Iterable[int]) -> list[int]:
    """A rejected dispute: ``disputed`` → ``invoiced`` (the charge stands). Returns the event ids moved."""
    return _ids_update(
        "UPDATE billing_charge SET state = 'invoiced' WHERE event_id = ANY(%(ids)s) AND state = 'disputed' "
        "RETURNING event_id",
        event_ids,
    )


@charges_moved(kinds.CHARGES_CREDITED)
def charges_credit_invoiced(*, event_ids: Iterable[int]) -> list[int]:
    """Charges on a finalized invoice credited by a credit note: → ``credited``.

    They keep their invoice line and amount (the final invoice never changes; the credit note gives
    the money back).
    """
    return _ids_update(
        "UPDATE billing_charge SET state = 'credited' WHERE event_id = ANY(%(ids)s) "
        "AND state IN ('invoiced', 'disputed') RETURNING event_id",
        event_ids,
    )


@charges_moved(kinds.CHARGES_DEDUCTED)
def charges_deduct_unbilled(*, event_ids: Iterable[int]) -> list[int]:
    """Outcomes deducted after their window (the customer came back) whose charge is not on an invoice
    yet: → ``credited`` with the reason ``deducted``; they leave the draft, and the session is freed."""
    moved = _ids_update(
        "UPDATE billing_charge SET state = 'credited', reason = 'deducted' WHERE event_id = ANY(%(ids)s) "
        "AND state = 'rated' AND NOT attempt AND invoice_line_id IS NULL AND reason IN ('', 'included') "
        "RETURNING event_id",
        event_ids,
    )
    session_claims_release(moved)
    return moved


@charges_moved(kinds.CHARGES_CREDITED_UNBILLED)
def charges_credit_unbilled(*, event_ids: Iterable[int]) -> list[int]:
    """Charges not yet on an invoice, credited after a dispute: → ``credited`` with the reason
    ``dispute_credited``, so the outcome leaves the draft and its cap reservation is released.

    The session the outcome held is freed (metering's claim), so a later success in it can be billed.
    Metering's decision is not touched: the outcome did succeed; the customer was given it back.
    """
    moved = _ids_update(
        "UPDATE billing_charge SET state = 'credited', reason = 'dispute_credited' WHERE event_id = ANY(%(ids)s) "
        "AND state IN ('estimated', 'rated') AND NOT attempt AND invoice_line_id IS NULL "
        "AND reason IN ('', 'included') RETURNING event_id",
        event_ids,
    )
    session_claims_release(moved)
    return moved


def charges_release_voided(*, invoice_id: int, account_id: int, occurred_from: datetime, occurred_to: datetime) -> int:
    """A voided invoice's charges leave its lines: ``invoiced`` → ``rated``, the line cleared, their
    amount, credits and reason as billed (an estimate again, until the reissued invoice stamps
    them). One statement and one money-log entry (``charges_released``); returns how many moved.

    ``occurred_from``/``occurred_to`` bound the charges its lines bill (its period and the earlier
    months it billed late outcomes of): the account's charges are read by time, not by line.
    The charge guard allows this move only while the line's invoice is void (migration 0019).
    """
    sql = (
        "WITH s AS (UPDATE billing_charge e SET state = 'rated', invoice_line_id = NULL "
        "FROM billing_invoiceline l WHERE l.id = e.invoice_line_id AND l.invoice_id = %(invoice)s "
        "AND e.account_id = %(account)s AND e.occurred_at >= %(since)s AND e.occurred_at < %(until)s "
        "AND e.state = 'invoiced' RETURNING e.event_id, e.account_id, e.currency, e.amount, e.credits, e.state) "
        f"SELECT (SELECT count(*) FROM s), {charges_summary_sql('s')}"
    )
    params = {"invoice": invoice_id, "account": account_id, "since": occurred_from, "until": occurred_to}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        summary = cursor.fetchone()
    charges_released_record(invoice_id=invoice_id, summary=summary)
    return summary[0]
