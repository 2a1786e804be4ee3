"""How a dispute reads over the API (and in the portal's JSON-ish bits): one dictionary."""

from __future__ import annotations

from disputes.models import CreditState, Dispute, DisputeStatus
from outcomeportal.core.money import money_str


def _iso(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def credited_amount_str(dispute: Dispute) -> str | None:
    """The money given back: exact once credited, "0.00" for a rejection, null while it is not known yet."""
    if dispute.credit_state == CreditState.ISSUED:
        return money_str(dispute.credited_amount, dispute.currency)
    if dispute.status == DisputeStatus.REJECTED:
        return money_str(0, dispute.currency)
    return None


def dispute_dict(dispute: Dispute, *, event_ids: list[str], approved_event_ids: list[str]) -> dict:
    """The contract's fields (id, account, status, event_ids, reason_code, sla_due_at,
    resolution_note, credited_amount), then more that users of the API expect."""
    return {
        "id": dispute.pk,
        "account": dispute.account.external_id,
        "status": dispute.status,
        "event_ids": event_ids,
        "reason_code": dispute.reason_code,
        "sla_due_at": _iso(dispute.sla_due_at),
        "resolution_note": dispute.resolution_note or None,
        "credited_amount": credited_amount_str(dispute),
        "message": dispute.message,
        "invoice_line_id": dispute.invoice_line_id,
        "invoice_id": dispute.invoice_id,
        "period": dispute.period,
        "currency": dispute.currency,
        "amount_at_stake": money_str(dispute.amount_at_stake, dispute.currency),
        "filed_at": _iso(dispute.filed_at),
        "filed_by": dispute.filed_by,
        "resolved_at": _iso(dispute.resolved_at),
        "approved_event_ids": approved_event_ids,
        "credit_status": dispute.credit_state,
        "credit_note_id": dispute.credit_note_id,
        "credit_note_number": dispute.credit_note.number if dispute.credit_note_id else None,
        "credited_at": _iso(dispute.credited_at),
        # Contracts priced in credits: the credits given back (to the prepaid balance, or not drawn).
        "credited_credits": None if dispute.credited_credits is None else f"{dispute.credited_credits.normalize():f}",
    }
