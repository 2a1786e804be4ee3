"""A decision with its evidence: every check's result beside the facts it was judged on.

What a signed decision certificate records of metering's decision (billing.certificates signs it),
so that anyone can work each result out again from the facts (``python -m outcomeportal.verify``).
Pure: it reads :mod:`metering.engine`'s inputs and the stored decision, and writes JSON values —
times in RFC 3339 (UTC, ``Z``), lists of names sorted, no Django.

The facts of a check are exactly what :func:`metering.engine.decide` reads for it; the engine's
rules themselves are written once more, on purpose, in the stand-alone verifier, and a test holds
the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from metering import engine


@dataclass(frozen=True, slots=True)
class SignalRecord:
    """A signal as recorded: only those whose effect is ``applied`` decided anything."""

    type: str
    occurred_at: datetime
    received_at: datetime
    effect: str  # applied | no_effect | window_closed


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with a ``Z``."""
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def rules_facts(rules: engine.Rules) -> dict:
    """The rule version's rules, as the checks name them."""
    return {
        "measurement_window_hours": rules.measurement_window_hours,
        "one_per_session": rules.one_per_session,
        "required_verification_methods": sorted(rules.required_verification_methods),
        "excluded_workflows": sorted(rules.excluded_workflows),
        "excluded_channels": sorted(rules.excluded_channels),
        "handoff_is_billable": rules.handoff_is_billable,
        "confirm_closes_window": rules.confirm_closes_window,
        "reopen_after_window": "new_outcome" if rules.reopen_is_new_outcome else "continuation",
    }


def check_facts(
    code: str,
    *,
    event: engine.EventFacts,
    rules: engine.Rules,
    state: engine.AccountState,
    applied: Sequence[SignalRecord],
    window_ends_at: datetime,
) -> dict:
    """The facts :func:`metering.engine.decide` judges check ``code`` on."""
    rule = rules_facts(rules)
    if code == "not_sandbox":
        return {"sandbox": event.sandbox}
    if code == "attempt_succeeded":
        return {"failure_reason": event.failure_reason}
    if code == "no_human_handoff":
        return {"human_handoff": event.human_handoff, "handoff_is_billable": rules.handoff_is_billable}
    if code == "success_criteria_met":
        return {"success_criteria_met": event.success_criteria_met}
    if code == "within_definition":
        return {
            "workflow": event.workflow,
            "channel": event.channel,
            "excluded_workflows": rule["excluded_workflows"],
            "excluded_channels": rule["excluded_channels"],
        }
    if code == "verified":
        return {
            "verification_method": event.verification_method,
            "required_verification_methods": rule["required_verification_methods"],
        }
    if code == "first_in_session":
        return {
            "event_id": event.event_id,
            "session_id": event.session_id,
            "one_per_session": rules.one_per_session,
            "session_taken_by": state.session_taken_by,
        }
    kind = _WINDOW_SIGNAL.get(code)
    if kind is not None:
        return {
            "occurred_at": iso(event.occurred_at),
            "window_ends_at": iso(window_ends_at),
            "signals": [iso(s.occurred_at) for s in applied if s.type == kind],
        }
    raise KeyError(f"no facts known for check {code!r}")


_WINDOW_SIGNAL = {"not_reopened": "reopened", "not_reversed": "reversed", "not_escalated": "escalated"}


def decision_evidence(
    *,
    event: engine.EventFacts,
    rules: engine.Rules,
    state: engine.AccountState,
    signals: Sequence[SignalRecord],
    checks: Sequence[Sequence[str]],
    status: str,
    reason: str,
    window_ends_at: datetime,
    decided_at: datetime,
    settled_at: datetime | None,
) -> dict:
    """The stored decision (``checks``, ``status``, ``reason``, ``window_ends_at``, as recorded — never
    decided again here) with the facts each part was judged on."""
    applied = [s for s in signals if s.effect == "applied"]
    return {
        "rule_version": rules.version,
        "engine_version": engine.ENGINE_VERSION,
        "rules": rules_facts(rules),
        "signals": [
            {"type": s.type, "occurred_at": iso(s.occurred_at), "received_at": iso(s.received_at), "effect": s.effect}
            for s in signals
        ],
        "window": {
            "occurred_at": iso(event.occurred_at),
            "measurement_window_hours": rules.measurement_window_hours,
            "confirm_closes_window": rules.confirm_closes_window,
            "confirmations": [iso(s.occurred_at) for s in applied if s.type == "confirmed"],
            "ends_at": iso(window_ends_at),
        },
        "checks": [
            {
                "code": code,
                "description": engine.CHECKS[code][1],
                "outcome": outcome,
                "facts": check_facts(
                    code, event=event, rules=rules, state=state, applied=applied, window_ends_at=window_ends_at
                ),
            }
            for code, outcome in checks
        ],
        "status": status,
        "reason": reason or None,
        "decided_at": iso(decided_at),
        "settled_at": iso(settled_at),
    }
