"""Reading the charge ledger beside metering's events: each event with its charge."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q

from billing.ledger.models import COUNTED_REASONS, Charge
from billing.ledger.shown import BILLING_REASONS, charged_amount, shown
from metering.models import Event, EventStatus


def charges_of(event_ids: Iterable[int]) -> dict[int, Charge]:
    """The charges of these events, by event id (an event that cannot cost money has none)."""
    ids = sorted({int(i) for i in event_ids})
    return {c.event_id: c for c in Charge.objects.filter(event_id__in=ids)} if ids else {}


def charges_locked(event_ids: Iterable[int]) -> dict[int, Charge]:
    """The same, each row locked until the transaction ends (in event id order: no deadlocks)."""
    ids = sorted({int(i) for i in event_ids})
    if not ids:
        return {}
    return {c.event_id: c for c in Charge.objects.select_for_update().filter(event_id__in=ids).order_by("event_id")}


def attach_charges(events: list[Event], charges: dict[int, Charge] | None = None) -> list[Event]:
    """Give each event its charge (one query for all), and what a customer reads of the two:

    ``charge`` (or None); ``amount`` and ``credits``: what the charge adds to its invoice (None when
    it adds nothing: no charge, void, or one of billing's reasons); ``currency`` and
    ``invoice_line_id`` (the charge's); ``shown_status`` and ``shown_reason`` (billing.ledger.shown).
    """
    if charges is None:
        charges = charges_of(e.pk for e in events)
    for e in events:
        c = charges.get(e.pk)
        e.charge = c
        e.charged = charged_amount(c and c.state, c and c.reason, c.amount if c else None)
        e.amount = e.charged
        e.credits = c.credits if c is not None and charged_amount(c.state, c.reason, c.credits) is not None else None
        e.currency = c.currency if c else None
        e.invoice_line_id = c.invoice_line_id if c else None
        e.shown_status, e.shown_reason = shown(e.status, e.non_billable_reason, c and c.state, c and c.reason)
    return events


# --- Filters on what customers read (billing.ledger.shown), as conditions on both tables -------


def _charge(account_id: int | None, **conditions) -> Exists:
    charges = Charge.objects.filter(event_id=OuterRef("pk"), **conditions)
    return Exists(charges.filter(account_id=account_id) if account_id is not None else charges)


def shown_status_q(status: str, *, account_id: int | None = None) -> Q:
    """The events that read as ``status`` (one of billing.ledger.shown.STATUSES)."""
    free = _charge(account_id, reason__in=BILLING_REASONS)
    if status == "pending":
        return Q(status=EventStatus.PENDING) & ~free
    if status == "billable":
        return Q(status=EventStatus.BILLABLE) & _charge(account_id, state="rated", reason__in=COUNTED_REASONS)
    if status == "non_billable":
        return Q(status=EventStatus.NON_BILLABLE) | free
    # invoiced, disputed, credited: an attempt reads as metering decided, whatever its charge
    return ~Q(status=EventStatus.NON_BILLABLE) & _charge(account_id, state=status, reason__in=COUNTED_REASONS)


def shown_reason_q(reason: str, *, account_id: int | None = None) -> Q:
    """The events that read as not billable for ``reason`` (one of billing.ledger.shown.REASONS)."""
    if reason in BILLING_REASONS:
        # Driven by the ledger's partial index on its reasons: few rows, whatever the account's size.
        charges = Charge.objects.filter(reason=reason)
        if account_id is not None:
            charges = charges.filter(account_id=account_id)
        return ~Q(status=EventStatus.NON_BILLABLE) & Q(pk__in=charges.values("event_id"))
    return Q(non_billable_reason=reason)
