"""The decision engine: is an outcome event billable, and why (or why not)?

A pure, deterministic function of (event, its signals, the criteria version, the
account's state, now). No Django, no database: the services load the inputs, call
:func:`decide`, and store what it returns together with the inputs it used, so that
``manage.py replay_decisions`` can run it again from the stored raw event and compare.

Every check is evaluated and reported, so a customer sees the whole picture; the
non-billable *reason* is the first failed check in :data:`CHECK_ORDER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

ENGINE_VERSION = 1

# Metering's reason words (api-v1.md). Extend only by adding. Billing adds its own where an
# outcome costs nothing although it succeeded (billing.ledger: training_window, pilot_free,
# cap_reached, dispute_credited).
REASONS: dict[str, str] = {
    "sandbox": "Test or sandbox usage",
    "abandoned": "Abandoned session",
    "workflow_failed": "Failed, cancelled or disconnected workflow",
    "greeting_only": "Greeting only",
    "unanswered_question": "Diagnostic or follow-up question without an answer",
    "no_show": "No-show",
    "human_handoff": "Escalated or handed off to a human",
    "criteria_not_met": "Success criteria not met",
    "verification_failed": "Verification failed",
    "duplicate_in_session": "Another outcome of the same session was already counted",
    "reopened_in_window": "Reopened inside the measurement window",
    "reversed_in_window": "Reversed inside the measurement window",
    "escalated_in_window": "Escalated inside the measurement window",
}
FAILURE_REASONS = ("abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show")
# An attempt that really happened and did not succeed (the conversation took place, it did not
# resolve): what attainment counts as attempted-and-failed, and what per-conversation contracts and
# ticket fees charge for. Never sandbox or duplicates.
ATTEMPT_REASONS = (
    *FAILURE_REASONS,
    "human_handoff",
    "criteria_not_met",
    "verification_failed",
    "reopened_in_window",
    "reversed_in_window",
    "escalated_in_window",
)

PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "n/a"

# Check code -> (the reason it gives when failed, plain words of what was checked).
CHECKS: dict[str, tuple[str, str]] = {
    "not_sandbox": ("sandbox", "The event is real usage, not a test or sandbox"),
    "attempt_succeeded": ("", "The platform reported no failure (abandoned, failed workflow, greeting only, …)"),
    "no_human_handoff": ("human_handoff", "The AI finished the work without handing it to a human"),
    "success_criteria_met": ("criteria_not_met", "The platform reports the success criteria as met"),
    "within_definition": ("criteria_not_met", "The workflow and channel are inside the agreed definition"),
    "verified": ("verification_failed", "Verified by a method the definition accepts"),
    "first_in_session": ("duplicate_in_session", "First counted outcome of its session"),
    "not_reopened": ("reopened_in_window", "Not reopened inside the measurement window"),
    "not_reversed": ("reversed_in_window", "Not reversed inside the measurement window"),
    "not_escalated": ("escalated_in_window", "Not escalated inside the measurement window"),
}
CHECK_ORDER = tuple(CHECKS)


@dataclass(frozen=True, slots=True)
class EventFacts:
    event_id: str
    occurred_at: datetime
    success_criteria_met: bool
    human_handoff: bool = False
    sandbox: bool = False
    failure_reason: str = ""
    verification_method: str = ""
    channel: str = ""
    workflow: str = ""
    session_id: str = ""


@dataclass(frozen=True, slots=True)
class Rules:
    """One version of an outcome type's success criteria, as the engine needs it."""

    version: str
    measurement_window_hours: int
    one_per_session: bool = True
    required_verification_methods: frozenset[str] = frozenset()
    excluded_workflows: frozenset[str] = frozenset()
    excluded_channels: frozenset[str] = frozenset()
    handoff_is_billable: bool = False
    confirm_closes_window: bool = False
    # After the window, is a reopen-then-success in the same session a new outcome (True)
    # or the continuation of the one already counted (False)? Used when claiming sessions.
    reopen_is_new_outcome: bool = False


@dataclass(frozen=True, slots=True)
class SignalFacts:
    type: str  # reopened | reversed | escalated | confirmed
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class AccountState:
    """Facts about the account at decision time, supplied by the services."""

    session_taken_by: str | None = None  # event_id already holding this session's outcome

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) not in (None, False)}

    @classmethod
    def from_dict(cls, data: dict) -> AccountState:
        return cls(**{k: v for k, v in data.items() if k in cls.__slots__})


class Decision(NamedTuple):  # a named tuple: ingestion makes one per event, up to 1,000 per request
    status: str  # pending | billable | non_billable
    reason: str  # "" unless non_billable
    window_ends_at: datetime
    checks: tuple[tuple[str, str], ...] = ()

    @property
    def candidate(self) -> bool:
        """Billable now or once the window closes."""
        return self.status != "non_billable"


def window_end(event: EventFacts, rules: Rules, signals: tuple[SignalFacts, ...] = ()) -> datetime:
    end = event.occurred_at + timedelta(hours=rules.measurement_window_hours)
    if rules.confirm_closes_window:
        for signal in signals:
            if signal.type == "confirmed" and event.occurred_at <= signal.occurred_at < end:
                end = signal.occurred_at
    return end


def decide(
    event: EventFacts,
    signals: tuple[SignalFacts, ...],
    rules: Rules,
    state: AccountState,
    now: datetime,
) -> Decision:
    """Decide one event. Same inputs, same answer, always.

    ``event`` is read through :class:`EventFacts`' attributes only, so any object that has them
    will do: ingestion passes the event it has just parsed instead of copying it into facts.
    """
    ends_at = window_end(event, rules, signals)
    # The window is [occurred_at, ends_at): a signal dated before the outcome cannot undo it.
    in_window = {s.type for s in signals if event.occurred_at <= s.occurred_at < ends_at} if signals else ()
    # One outcome per check, in CHECK_ORDER.
    outcomes = (
        FAILED if event.sandbox else PASSED,
        FAILED if event.failure_reason else PASSED,
        NOT_APPLICABLE if rules.handoff_is_billable else (FAILED if event.human_handoff else PASSED),
        PASSED if event.success_criteria_met else FAILED,
        FAILED if event.workflow in rules.excluded_workflows or event.channel in rules.excluded_channels else PASSED,
        NOT_APPLICABLE
        if not rules.required_verification_methods
        else (PASSED if event.verification_method in rules.required_verification_methods else FAILED),
        NOT_APPLICABLE
        if not (rules.one_per_session and event.session_id)
        else (FAILED if state.session_taken_by not in (None, event.event_id) else PASSED),
        FAILED if "reopened" in in_window else PASSED,
        FAILED if "reversed" in in_window else PASSED,
        FAILED if "escalated" in in_window else PASSED,
    )
    checks, reason = _verdict(outcomes, event.failure_reason)
    if reason:
        status = "non_billable"
    elif now < ends_at:
        status = "pending"
    else:
        status = "billable"
    return Decision(status, reason, ends_at, checks)


@lru_cache(maxsize=4096)
def _verdict(outcomes: tuple[str, ...], failure_reason: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """The checks list and the reason for a tuple of outcomes (few distinct ones: cached)."""
    checks = tuple(zip(CHECK_ORDER, outcomes, strict=True))
    for code, result in checks:
        if result == FAILED:
            if code == "attempt_succeeded":
                return checks, failure_reason if failure_reason in FAILURE_REASONS else "workflow_failed"
            return checks, CHECKS[code][0]
    return checks, ""
