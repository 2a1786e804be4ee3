"""Attainment's counting rule, written once: which outcomes are billable, which failed, which were
not attempted, and the rate. Pure — no Django.

Billing prices a contract's outcome guarantee with it (:mod:`billing.pricing.guarantee`) and finance
reports the figure with it (``finance.attainment``), so the invoice and the finance page count
alike. The counts come in by the status and reason customers see (``billing.ledger.shown``).

**Attainment rate = billable ÷ attempted**, where

* *billable* — outcomes shown ``billable``, ``invoiced`` or ``disputed`` (a disputed charge stands
  until the dispute is resolved);
* *attempted* — billable plus the outcomes the AI failed on: shown ``non_billable`` for any of
  metering's reasons except ``sandbox`` and ``duplicate_in_session`` (abandoned, failed workflow,
  hand-off, criteria not met, verification failed, reopened / reversed / escalated in the window…)
  and billing's ``deducted`` (the customer came back after the window);
* *not attempted* — counted apart, by reason word, never in either side: ``sandbox`` and
  ``duplicate_in_session`` (not real or not separate work), ``training_window``, ``pilot_free``,
  ``cap_reached`` (the AI did its work; the plan made it free), ``account_suspended`` and
  ``account_churned`` (the account was not active: nothing it did was billed) and ``dispute_credited`` (shown
  ``credited``, or not billable for that reason), plus ``pending`` (the window is still open).

A rate is a 4-decimal ratio, rounded half away from zero (``0.5385``); no attempted outcome, no rate.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# The reasons an outcome is not attempted, in the order they are shown (the API's words).
NOT_ATTEMPTED = (
    "training_window",
    "pilot_free",
    "cap_reached",
    "dispute_credited",
    "account_suspended",
    "account_churned",
    "sandbox",
    "duplicate_in_session",
    "pending",
)
BILLABLE_STATUSES = ("billable", "invoiced", "disputed")
RATE_PLACES = Decimal("0.0001")
BILLABLE, FAILED = "billable", "failed"


def classify(status: str, reason: str) -> str:
    """Where an outcome shown with ``status`` and ``reason`` counts: ``billable``, ``failed`` or the
    word of :data:`NOT_ATTEMPTED` it is counted under."""
    if status in BILLABLE_STATUSES:
        return BILLABLE
    if status == "pending":
        return "pending"
    if status == "credited":
        return "dispute_credited"
    if reason in NOT_ATTEMPTED:
        return reason
    return FAILED


def rate(billable: int, attempted: int) -> Decimal | None:
    """billable ÷ attempted as a 4-decimal ratio (None when nothing was attempted)."""
    if attempted <= 0:
        return None
    return (Decimal(billable) / Decimal(attempted)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
