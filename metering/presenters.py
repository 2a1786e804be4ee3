"""How an event reads in the API: one row shape for every endpoint that lists events.

Used by the events API and by billing's invoice-line events (billing may import this module,
not metering's API views), so both endpoints always list the same fields.
"""

from __future__ import annotations

from accounts.access import Perm, Principal
from metering import engine
from metering.models import Event


def iso(value) -> str | None:
    """RFC 3339 in UTC with a ``Z``."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _amount(value) -> str | None:
    return None if value is None else str(value)


def event_row(event: Event, *, principal: Principal) -> dict:
    """One event's facts and metering's decision, as the contract's list row writes them. Cost is the
    vendor's alone. The events API (billing.events_api) adds what the event costs and reads its
    status and reason with its charge (billing.presenters.event_row)."""
    row = {
        "event_id": event.event_id,
        "account": event.account.external_id,
        "outcome_type": event.outcome_type.code,
        "occurred_at": iso(event.occurred_at),
        "received_at": iso(event.received_at),
        "success_criteria_met": event.success_criteria_met,
        "human_handoff": event.human_handoff,
        "channel": event.channel,
        "workflow": event.workflow,
        "session_id": event.session_id,
        "complexity": event.complexity or None,
        "verification_method": event.verification_method,
        "source_url": event.source_url,
        "sandbox": event.sandbox,
        "failure_reason": event.failure_reason or None,
        "value_amount": _amount(event.value_amount),
        "attributes": event.attributes,
        "status": event.status,
        "measurement_window_ends_at": iso(event.window_ends_at),
        "non_billable_reason": event.non_billable_reason or None,
        "rule_version": event.criteria.label,
    }
    if principal.can(Perm.COST_READ):
        row["cost_amount"] = _amount(event.cost_amount)
    return row


def decision_body(event: Event) -> dict:
    """The event's decision as the API shows it: status, reason, rule version, every check."""
    return {
        "status": event.status,
        "non_billable_reason": event.non_billable_reason or None,
        "reason_text": engine.REASONS.get(event.non_billable_reason),
        "rule_version": event.criteria.label,
        "engine_version": engine.ENGINE_VERSION,
        "decided_at": iso(event.decided_at),
        "settled_at": iso(event.settled_at),
        "criteria": [
            {"code": code, "description": engine.CHECKS[code][1], "outcome": outcome} for code, outcome in event.checks
        ],
        "state": event.state,
    }
