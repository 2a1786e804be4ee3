"""One status and one reason per event, as customers and the API see them: joined from metering's
decision and billing's charge.

Metering decides whether an outcome happened the way the contract counts it (pending, billable, or
not billable with metering's reason). Billing says what it costs: nothing when an allowance, the
cap or a dispute rules it out (the charge's reason), and whether it was invoiced, disputed or
credited (the charge's state). The words are the contract's (api-v1.md): ``status`` one of
:data:`STATUSES`, ``non_billable_reason`` one of :data:`REASONS`.
"""

from __future__ import annotations

from billing.ledger.models import FREE_REASONS, ChargeReason, ChargeState
from metering import engine

STATUSES = ("pending", "billable", "non_billable", "invoiced", "disputed", "credited")
STATUS_LABELS = {
    "pending": "Pending",
    "billable": "Billable",
    "non_billable": "Not billable",
    "invoiced": "Invoiced",
    "disputed": "Disputed",
    "credited": "Credited",
}
# Every reason word a customer can read: metering's, then billing's (extend only by adding).
REASONS: dict[str, str] = {**engine.REASONS, **{r.value: r.label for r in FREE_REASONS}}
BILLING_REASONS = tuple(r.value for r in FREE_REASONS)
# The statuses whose amount the customer is charged, or will be on this period's invoice. A
# disputed charge stands until the dispute is resolved; a credited one was given back.
CHARGED_STATUSES = ("billable", "invoiced", "disputed")
_LINE_STATES = (ChargeState.INVOICED, ChargeState.DISPUTED, ChargeState.CREDITED)


def shown(status: str, reason: str, charge_state: str | None, charge_reason: str | None) -> tuple[str, str]:
    """(status, reason) of an event as customers see it, from its decision and its charge (or None)."""
    if charge_state is None or status == "non_billable":
        # No charge (sandbox, duplicates), or an attempt that did not succeed: metering's words
        # (a fee the cap left uncharged changes nothing about why the attempt failed).
        return status, reason
    if charge_reason in BILLING_REASONS:
        return "non_billable", charge_reason
    if charge_state in _LINE_STATES:
        return charge_state, ""
    return status, ""


def shown_sql(status: str, reason: str, charge: str = "c") -> tuple[str, str]:
    """:func:`shown` as two SQL expressions (status, reason): ``status`` and ``reason`` are the SQL of
    the event's decision, ``charge`` the alias of its charge (LEFT JOINed: NULLs when none)."""
    free = ", ".join(f"'{r}'" for r in BILLING_REASONS)
    lines = ", ".join(f"'{s}'" for s in _LINE_STATES)
    metering_only = f"{charge}.state IS NULL OR {status} = 'non_billable'"
    shown_status = (
        f"CASE WHEN {metering_only} THEN {status} WHEN {charge}.reason IN ({free}) THEN 'non_billable' "
        f"WHEN {charge}.state IN ({lines}) THEN {charge}.state ELSE {status} END"
    )
    shown_reason = (
        f"CASE WHEN {metering_only} THEN {reason} WHEN {charge}.reason IN ({free}) THEN {charge}.reason ELSE '' END"
    )
    return shown_status, shown_reason


def charged_sql(column: str, charge: str = "c") -> str:
    """:func:`charged_amount` in SQL: the charge's ``column`` (amount, credits) where it adds to the invoice."""
    free = ", ".join(f"'{r}'" for r in BILLING_REASONS)
    return (
        f"CASE WHEN {charge}.state IS NOT NULL AND {charge}.state <> 'void' AND {charge}.reason NOT IN ({free}) "
        f"THEN {charge}.{column} END"
    )


def charged_amount(charge_state: str | None, charge_reason: str | None, amount):
    """What the charge adds to the customer's invoice (None: nothing to show, e.g. no charge)."""
    if charge_state is None or charge_state == ChargeState.VOID or charge_reason in BILLING_REASONS:
        return None
    return amount


__all__ = [
    "BILLING_REASONS",
    "CHARGED_STATUSES",
    "REASONS",
    "STATUSES",
    "STATUS_LABELS",
    "ChargeReason",
    "charged_amount",
    "charged_sql",
    "shown",
    "shown_sql",
]
