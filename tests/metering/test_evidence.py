"""The stand-alone verifier's replay (outcomeportal.verify) and metering's engine give the same answers.

The rules are written twice on purpose — once in the engine, once in the verifier that a customer
runs without the portal — so these tests hold them together: for a broad set of events (every
status and every reason the engine can produce, then many random ones), the decision the engine
makes, recorded with its facts (metering.evidence) and read back as JSON, replays to the same
checks, window end, status and reason. (Billing's part — the status and reason shown with the
charge — is held to the verifier in tests/billing/test_certificates.py.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metering import engine
from metering.evidence import SignalRecord, decision_evidence
from outcomeportal import verify

T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
H = timedelta(hours=1)


def recorded(event, rules, state=None, signals=(), now=T0 + 2 * H):
    """The engine's decision, recorded with its evidence as a certificate carries it (JSON round trip)."""
    state = state or engine.AccountState()
    engine_signals = tuple(engine.SignalFacts(s.type, s.occurred_at) for s in signals)
    decision = engine.decide(event, engine_signals, rules, state, now)
    evidence = decision_evidence(
        event=event,
        rules=rules,
        state=state,
        signals=signals,
        checks=decision.checks,
        status=decision.status,
        reason=decision.reason,
        window_ends_at=decision.window_ends_at,
        decided_at=now,
        settled_at=now if decision.status == "billable" else None,
    )
    return decision, json.loads(json.dumps(evidence))


def assert_replay_agrees(decision: engine.Decision, evidence: dict) -> verify.Replayed:
    replayed = verify.replay_decision(evidence)
    assert replayed.checks == list(decision.checks)
    assert replayed.window_ends_at == decision.window_ends_at
    assert (replayed.status, replayed.reason) == (decision.status, decision.reason or None)
    return replayed


def facts(**fields) -> engine.EventFacts:
    return engine.EventFacts(**{"event_id": "e-1", "occurred_at": T0, "success_criteria_met": True, **fields})


def rules(**fields) -> engine.Rules:
    return engine.Rules(**{"version": "resolved_conversation v1", "measurement_window_hours": 72, **fields})


def signal(kind: str, hours: float) -> SignalRecord:
    at = T0 + timedelta(hours=hours)
    return SignalRecord(kind, at, at, "applied")


# One event per status and reason the engine can produce (and the corner cases of each check).
CASES = {
    "pending": (facts(), rules(), {}),
    "billable": (facts(), rules(measurement_window_hours=1), {}),
    "billable, window closed by a confirmation": (
        facts(),
        rules(confirm_closes_window=True),
        {"signals": (signal("confirmed", 1),)},
    ),
    "pending, a confirmation the definition ignores": (facts(), rules(), {"signals": (signal("confirmed", 1),)}),
    "sandbox": (facts(sandbox=True), rules(), {}),
    **{reason: (facts(failure_reason=reason), rules(), {}) for reason in engine.FAILURE_REASONS},
    "workflow_failed, from a failure word outside the contract": (facts(failure_reason="timeout"), rules(), {}),
    "human_handoff": (facts(human_handoff=True), rules(), {}),
    "pending, a hand-off the definition bills": (facts(human_handoff=True), rules(handoff_is_billable=True), {}),
    "criteria_not_met": (facts(success_criteria_met=False), rules(), {}),
    "criteria_not_met, an excluded workflow": (facts(workflow="faq"), rules(excluded_workflows=frozenset({"faq"})), {}),
    "criteria_not_met, an excluded channel": (facts(channel="sms"), rules(excluded_channels=frozenset({"sms"})), {}),
    "verification_failed": (
        facts(verification_method="llm_verified"),
        rules(required_verification_methods=frozenset({"crm_accepted"})),
        {},
    ),
    "pending, verified": (
        facts(verification_method="crm_accepted"),
        rules(required_verification_methods=frozenset({"crm_accepted", "customer_confirmed"})),
        {},
    ),
    "duplicate_in_session": (
        facts(session_id="s1"),
        rules(),
        {"state": engine.AccountState(session_taken_by="e-0")},
    ),
    "pending, the session's holder itself": (
        facts(session_id="s1"),
        rules(),
        {"state": engine.AccountState(session_taken_by="e-1")},
    ),
    "pending, sessions not counted once": (
        facts(session_id="s1"),
        rules(one_per_session=False),
        {"state": engine.AccountState(session_taken_by="e-0")},
    ),
    "reopened_in_window": (facts(), rules(), {"signals": (signal("reopened", 1),)}),
    "reversed_in_window": (facts(), rules(), {"signals": (signal("reversed", 1),)}),
    "escalated_in_window": (facts(), rules(), {"signals": (signal("escalated", 1),)}),
    "billable, a reopen after the window": (
        facts(),
        rules(measurement_window_hours=1),
        {"signals": (signal("reopened", 1),)},
    ),
    "pending, a reversal dated before the outcome": (facts(), rules(), {"signals": (signal("reversed", -1),)}),
    "sandbox, first of several failures": (
        facts(sandbox=True, failure_reason="abandoned", human_handoff=True, success_criteria_met=False),
        rules(),
        {"signals": (signal("reopened", 1),)},
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_every_status_and_reason_replays_to_the_engines_answer(case):
    event, rule_set, extra = CASES[case]
    decision, evidence = recorded(event, rule_set, **extra)

    assert_replay_agrees(decision, evidence)
    expected = case.split(",")[0]
    assert (decision.reason or decision.status) == expected


def test_the_cases_cover_every_status_and_reason_the_engine_has():
    answers = set()
    for event, rule_set, extra in CASES.values():
        decision, _ = recorded(event, rule_set, **extra)
        answers.add(decision.reason or decision.status)
    assert answers == {"pending", "billable", *engine.REASONS}


def test_the_verifier_knows_the_engines_checks_in_the_engines_order():
    assert list(verify.METERING_CHECKS) == list(engine.CHECK_ORDER)
    assert {code: word for code, word in verify.METERING_CHECKS.items() if word} == {
        code: reason for code, (reason, _) in engine.CHECKS.items() if reason
    }
    assert verify.FAILURE_REASONS == engine.FAILURE_REASONS
    assert verify.ENGINE_VERSION == engine.ENGINE_VERSION


_words = st.sampled_from(["", "chat", "sms", "faq", "refund"])
_hours = st.integers(min_value=-3, max_value=100)


@st.composite
def _decisions(draw):
    event = facts(
        sandbox=draw(st.booleans()),
        failure_reason=draw(st.sampled_from(["", *engine.FAILURE_REASONS, "timeout"])),
        human_handoff=draw(st.booleans()),
        success_criteria_met=draw(st.booleans()),
        workflow=draw(_words),
        channel=draw(_words),
        verification_method=draw(st.sampled_from(["", "crm_accepted", "llm_verified"])),
        session_id=draw(st.sampled_from(["", "s1"])),
        occurred_at=T0 + timedelta(seconds=draw(st.integers(0, 10**6)), microseconds=draw(st.integers(0, 999_999))),
    )
    rule_set = rules(
        measurement_window_hours=draw(st.sampled_from([0, 1, 24, 72])),
        one_per_session=draw(st.booleans()),
        required_verification_methods=frozenset(draw(st.sets(st.sampled_from(["crm_accepted", "llm_verified"])))),
        excluded_workflows=frozenset(draw(st.sets(_words, max_size=2))),
        excluded_channels=frozenset(draw(st.sets(_words, max_size=2))),
        handoff_is_billable=draw(st.booleans()),
        confirm_closes_window=draw(st.booleans()),
    )
    state = engine.AccountState(session_taken_by=draw(st.sampled_from([None, "e-0", "e-1"])))
    kinds = st.sampled_from(["reopened", "reversed", "escalated", "confirmed"])
    signals = tuple(
        SignalRecord(kind, event.occurred_at + timedelta(hours=h), event.occurred_at + timedelta(hours=h), "applied")
        for kind, h in draw(st.lists(st.tuples(kinds, _hours), max_size=4))
    )
    now = event.occurred_at + timedelta(hours=draw(_hours.filter(lambda h: h >= 0)))
    return event, rule_set, state, signals, now


@settings(max_examples=400, deadline=None)
@given(_decisions())
def test_random_decisions_replay_to_the_engines_answer(drawn):
    event, rule_set, state, signals, now = drawn
    decision, evidence = recorded(event, rule_set, state, signals, now)
    assert_replay_agrees(decision, evidence)
