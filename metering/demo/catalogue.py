"""The catalogue the demo vendor sells: four outcome types, their criteria and how they go wrong.

Also the product definition v2 of a resolution (rolled out mid-period) and acme's enterprise
override of it, and :class:`Mix`, the weighted pick every part of the demo draws from.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass


class Mix:
    """Names with relative weights, and a fast weighted pick."""

    __slots__ = ("cumulative", "names")

    def __init__(self, pairs: list[tuple[str, float]]):
        self.names = tuple(name for name, _ in pairs)
        total, cumulative = 0.0, []
        for _, weight in pairs:
            total += weight
            cumulative.append(total / sum(w for _, w in pairs))
        cumulative[-1] = float("inf")  # random() < 1 always lands inside
        self.cumulative = tuple(cumulative)

    def pick(self, rng: random.Random) -> str:
        return self.names[bisect.bisect(self.cumulative, rng.random())]


def _mix(text: str) -> Mix:
    """ "chat 55, email 30" -> chat 55 parts in 85, email 30 parts in 85."""
    return Mix([(name, float(weight)) for name, weight in (item.split() for item in text.split(","))])


# --- The catalogue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeSpec:
    code: str
    name: str
    unit_price: str
    value_type: str
    window_hours: int
    description: str
    criteria: dict
    # What the platform's verification step reports: accepted methods, and one it does not accept.
    verified_by: Mix
    unverified_by: str
    # Scenario -> weight. "ok" is a success; others name how the attempt went wrong.
    scenarios: Mix
    repeat_rate: float  # share of sessions with a second event (duplicate_in_session)
    # Signals on successful events: (type, probability, inside the window?, note).
    signals: tuple[tuple[str, float, bool, str], ...]


OUTCOME_TYPES: tuple[OutcomeSpec, ...] = (
    OutcomeSpec(
        code="resolved_conversation",
        name="Resolved conversation",
        unit_price="0.99",
        value_type="labor_savings",
        window_hours=72,
        description="A customer conversation the AI agent resolved end to end, verified, not reopened within 72 h.",
        criteria={
            "measurement_window_hours": 72,
            "one_per_session": True,
            "required_verification_methods": ["customer_confirmed", "inactivity_timeout"],
            "confirm_closes_window": True,
            "reopen_after_window": "new_outcome",
            "system_action": "an AI support conversation",
            "customer_result": "a customer request resolved with no human involved",
            "failure_condition": "a hand-off to a human, a reopen or an escalation",
            "verification_source": "the customer's confirmation or 72 hours without a reply",
            "dispute_process": "Flag the conversation in the portal; vendor support answers within 48 hours.",
        },
        verified_by=_mix("customer_confirmed 35, inactivity_timeout 65"),
        unverified_by="agent_self_report",
        scenarios=_mix(
            "ok 71, handoff 8, abandoned 5, greeting_only 4, unanswered_question 3.5, "
            "workflow_failed 1.5, not_met 4, unverified 2"
        ),
        repeat_rate=0.04,
        signals=(
            ("reopened", 0.005, True, "Customer replied: the problem is back."),
            ("escalated", 0.002, True, "Customer asked for a manager."),
            ("confirmed", 0.004, True, "Customer clicked 'Yes, this solved it'."),
            ("reopened", 0.0015, False, "Customer wrote again about the same ticket, after the window."),
        ),
    ),
    OutcomeSpec(
        code="qualified_lead",
        name="Qualified lead",
        unit_price="4.00",
        value_type="revenue_generation",
        window_hours=168,
        description="An inbound lead the AI SDR qualified and the customer's sales team accepted in its CRM.",
        criteria={
            "measurement_window_hours": 168,
            "one_per_session": True,
            "required_verification_methods": ["crm_accepted"],
            "system_action": "the AI SDR's qualification of an inbound lead",
            "customer_result": "a sales-qualified lead accepted in the customer's CRM",
            "failure_condition": "sales rejecting or disqualifying the lead",
            "verification_source": "CRM acceptance by the customer's sales team",
            "dispute_process": "Flag the lead; vendor support checks the CRM history within 48 hours.",
        },
        verified_by=_mix("crm_accepted 1"),
        unverified_by="sdr_review",
        scenarios=_mix("ok 45, not_met 30, abandoned 8, no_show 5, handoff 6, workflow_failed 1.5, unverified 4.5"),
        repeat_rate=0.02,
        signals=(
            ("reversed", 0.03, True, "Sales disqualified the lead (no budget)."),
            ("confirmed", 0.004, True, "Opportunity created in the CRM."),
            ("reversed", 0.006, False, "Sales disqualified the lead after the window."),
        ),
    ),
    OutcomeSpec(
        code="completed_screening",
        name="Completed screening",
        unit_price="2.50",
        value_type="labor_savings",
        window_hours=24,
        description="A candidate screening the AI recruiter completed and recorded in the customer's ATS.",
        criteria={
            "measurement_window_hours": 24,
            "one_per_session": True,
            "required_verification_methods": ["ats_recorded", "recruiter_confirmed"],
            "system_action": "an AI-run candidate screening",
            "customer_result": "a completed screening with a scorecard in the ATS",
            "failure_condition": "a no-show, a dropped call or an incomplete scorecard",
            "verification_source": "the ATS record or the recruiter's confirmation",
        },
        verified_by=_mix("ats_recorded 80, recruiter_confirmed 20"),
        unverified_by="self_reported",
        scenarios=_mix("ok 62, no_show 14, abandoned 9, workflow_failed 4, handoff 4, not_met 5, unverified 2"),
        repeat_rate=0.03,
        signals=(
            ("reversed", 0.005, True, "Recruiter marked the scorecard incomplete."),
            ("reversed", 0.0025, False, "Recruiter marked the scorecard incomplete after the window."),
        ),
    ),
    OutcomeSpec(
        code="saved_cancellation",
        name="Saved cancellation",
        unit_price="8.00",
        value_type="revenue_generation",
        window_hours=336,
        description="A member who started to cancel and stayed: still subscribed 14 days later.",
        criteria={
            "measurement_window_hours": 336,
            "one_per_session": True,
            "required_verification_methods": ["billing_system"],
            "reopen_after_window": "continuation",
            "system_action": "the AI retention agent's handling of a cancellation request",
            "customer_result": "a membership kept active",
            "failure_condition": "the member cancelling anyway",
            "verification_source": "the subscription status in the billing system 14 days later",
        },
        verified_by=_mix("billing_system 1"),
        unverified_by="agent_self_report",
        scenarios=_mix("ok 38, not_met 45, abandoned 6, handoff 7, workflow_failed 2, unverified 2"),
        repeat_rate=0.02,
        signals=(
            ("reversed", 0.04, True, "Member cancelled within 14 days."),
            ("reversed", 0.008, False, "Member cancelled after the 14-day window."),
        ),
    ),
)
OUTCOME_BY_CODE = {o.code: o for o in OUTCOME_TYPES}

# Product definition v2 of resolved_conversation, rolled out mid-period: the platform shipped
# LLM verification of transcripts, and proactive outage notices stopped counting as resolutions.
RESOLUTION_V2_AT_FRACTION = 0.5
RESOLUTION_V2 = {
    "required_verification_methods": ["customer_confirmed", "inactivity_timeout", "llm_verified"],
    "excluded_workflows": ["support.outage_notice"],
    "verification_source": "the customer's confirmation, 72 hours without a reply, or an LLM review of the transcript",
}
RESOLUTION_V2_VERIFIED_BY = _mix("customer_confirmed 30, inactivity_timeout 42, llm_verified 28")

# Acme's enterprise definition of a resolution (overrides the product one for acme only).
ACME_OVERRIDE = {
    "measurement_window_hours": 48,
    "required_verification_methods": ["customer_confirmed", "llm_verified"],
    "excluded_workflows": ["support.password_reset", "support.outage_notice"],
    "customer_result": "a ticket marked solved in Acme's Zendesk without an agent touching it",
    "verification_source": "Acme's Zendesk ticket status or the LLM transcript review",
    "dispute_process": "Acme's support-ops lead reviews disputed tickets weekly; credits within 5 business days.",
}
ACME_VERIFIED_BY = _mix("customer_confirmed 45, llm_verified 52, inactivity_timeout 3")
