"""An event's page: its decision explained check by check — metering's, then billing's — and its timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.labels import label
from billing.ledger.models import ChargeState, Deduction
from metering import engine
from metering.models import Event, EventStatus

# --- Event detail -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckExplained:
    code: str
    outcome: str  # passed | failed | n/a
    description: str  # what was checked, in plain words
    reason: str  # the reason word a failure of this check gives
    decisive: bool  # the first failure: the reason the event is not billable


# Billing's checks, after metering's: what makes a successful outcome cost nothing (its charge's reason).
BILLING_CHECKS = (
    ("outside_training_window", "training_window", "Outside the free training window"),
    ("beyond_pilot_allowance", "pilot_free", "Beyond the free pilot allowance"),
    ("within_spend_cap", "cap_reached", "Within the monthly spend cap"),
    ("not_credited", "dispute_credited", "Not credited after a dispute"),
    ("account_not_suspended", "account_suspended", "The account was not suspended when it occurred"),
    ("account_not_churned", "account_churned", "The account had not churned when it occurred"),
    ("not_deducted", "deducted", "Not deducted after the window (the customer did not come back)"),
)


def decision_explained(event: Event) -> list[CheckExplained]:
    """The stored decision, criterion by criterion, in the engine's order; then, for an event with a
    charge (billing.ledger.selectors.attach_charges), billing's checks from the charge's reason."""
    outcomes = []
    for code, outcome in event.checks:
        reason, description = engine.CHECKS.get(code, ("", code))
        if code == "attempt_succeeded" and outcome == engine.FAILED:
            reason = event.failure_reason or "workflow_failed"
        outcomes.append((code, outcome, description, reason))
    charge = getattr(event, "charge", None)
    if charge is not None and charge.state != ChargeState.VOID:
        for code, reason, description in BILLING_CHECKS:
            outcomes.append((code, engine.FAILED if charge.reason == reason else engine.PASSED, description, reason))
    checks, decisive_seen = [], False
    for code, outcome, description, reason in outcomes:
        decisive = outcome == engine.FAILED and not decisive_seen
        decisive_seen = decisive_seen or decisive
        checks.append(CheckExplained(code, outcome, description, reason, decisive))
    return checks


# The account-state facts a decision used (Event.state), in words.
STATE_TEXT = {
    "session_taken_by": "Another event of the same session was already counted",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    kind: str  # occurred | received | signal | window | settled
    title: str
    detail: str = ""
    upcoming: bool = False


def event_timeline(event: Event, signals: list, *, now: datetime) -> list[TimelineEntry]:
    """What happened to the event, in time order, with the window's end (past or to come)."""
    entries = [
        TimelineEntry(
            event.occurred_at, "occurred", "Outcome occurred", _join(label(event.channel, "channel"), event.workflow)
        ),
        TimelineEntry(event.received_at, "received", "Received and decided", "Stored exactly as posted"),
    ]
    for signal in signals:
        entries.append(
            TimelineEntry(
                signal.occurred_at,
                "signal",
                signal.get_type_display(),
                _join(signal.get_effect_display(), signal.note),
            )
        )
    confirmed_early = any(s.type == "confirmed" and s.occurred_at == event.window_ends_at for s in signals)
    if event.status == EventStatus.PENDING and event.window_ends_at > now:
        entries.append(
            TimelineEntry(
                event.window_ends_at,
                "window",
                "Measurement window ends",
                "Billable then, unless it is reopened, reversed or escalated before",
                upcoming=True,
            )
        )
    elif event.window_ends_at > now:  # decided before the window ran out (a failed attempt, a reopen…)
        entries.append(
            TimelineEntry(event.window_ends_at, "window", "Measurement window would end", "Not needed: already decided")
        )
    else:
        title = "Measurement window closed by confirmation" if confirmed_early else "Measurement window ended"
        entries.append(TimelineEntry(event.window_ends_at, "window", title))
    if event.settled_at:
        entries.append(TimelineEntry(event.settled_at, "settled", "Settled", f"Status: {event.get_status_display()}"))
    return sorted(entries, key=lambda e: (e.at, e.kind == "window"))


def deduction_entries(deduction: Deduction | None) -> list[TimelineEntry]:
    """The outcome deducted after its window (billing.invoices.corrections): when the customer came
    back, as reported, and when it was deducted, with what it gave back."""
    if deduction is None:
        return []
    given = (
        f"credit note {deduction.credit_note.number} on the next invoice"
        if deduction.credit_note is not None
        else "its credits back to the prepaid balance"
        if deduction.how == Deduction.How.CREDIT_NOTE
        else "it left the upcoming invoice"
    )
    return [
        TimelineEntry(deduction.reported_at, "deduction", "Customer came back (reported)", deduction.reason),
        TimelineEntry(
            deduction.created_at, "deduction", "Deducted after the window", f"By {deduction.created_by}: {given}"
        ),
    ]


def _join(*parts: str) -> str:
    return " · ".join(p for p in parts if p)
