""" "You are not charged when…": every reason an outcome is not billable, grouped the way customers read
them — the one list every page that tells the forgiveness rules shows (What counts).

Built from every reason word a customer can read (:data:`billing.ledger.shown.REASONS`: metering's,
then billing's — the free allowances, the cap, "Credited after a dispute"), in those words. A reason
added to the engine later, and not yet given a group here, still shows, under "Other reasons": the
list can never say less than the events do.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing.ledger.shown import REASONS

# Non-billable reasons grouped the way "You are not charged when…" tells them: (title, reason codes).
REASON_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "The work did not get done",
        (
            "abandoned",
            "workflow_failed",
            "greeting_only",
            "unanswered_question",
            "no_show",
            "criteria_not_met",
            "verification_failed",
        ),
    ),
    ("A person had to step in", ("human_handoff", "escalated_in_window")),
    ("It did not last", ("reopened_in_window", "reversed_in_window", "deducted")),
    ("It was already counted", ("duplicate_in_session",)),
    ("It was not real usage", ("sandbox",)),
    ("Your plan covers it", ("training_window", "pilot_free", "cap_reached")),
    ("You disputed it and we agreed", ("dispute_credited",)),
    ("The account was not active", ("account_suspended", "account_churned")),
)
OTHER = "Other reasons"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # the word the API, the CSV and the audit table's filter use
    text: str  # what the customer reads


@dataclass(frozen=True, slots=True)
class ReasonGroup:
    title: str
    reasons: tuple[Reason, ...]


def not_charged_groups() -> tuple[ReasonGroup, ...]:
    """Every reason a customer can read, each once, in its group (groups without one are left out)."""
    groups = [
        ReasonGroup(title, tuple(Reason(code, REASONS[code]) for code in codes if code in REASONS))
        for title, codes in REASON_GROUPS
    ]
    listed = {code for _, codes in REASON_GROUPS for code in codes}
    groups.append(ReasonGroup(OTHER, tuple(Reason(c, t) for c, t in REASONS.items() if c not in listed)))
    return tuple(g for g in groups if g.reasons)
