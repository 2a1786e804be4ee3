"""manage.py replay_decisions: every stored decision is what the engine answers again from the raw event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from billing.ingestion import outcomes_settle, signal_record
from billing.ledger.models import Charge
from metering.models import Event, Signal
from metering.services import WindowClosed, criteria_version_create
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 8, tzinfo=UTC)
H = timedelta(hours=1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def signal(event_id: str, kind: str, hours: float, now_hours: float):
    event = Event.objects.get(account__external_id="acme", event_id=event_id)
    return signal_record(event=event, type=kind, occurred_at=at(hours), now=at(now_hours))


@pytest.fixture
def dataset(account_a, account_b):
    """Every kind of decision: reasons, sessions, signals of every effect, two rule versions, settlement."""
    rc = factories.make_outcome_type("resolved_conversation", measurement_window_hours=72)
    factories.make_outcome_type(
        "qualified_lead",
        unit_price="5.00",
        measurement_window_hours=0,
        required_verification_methods=["crm_accepted"],
        excluded_channels=["sms"],
        one_per_session=False,
    )
    factories.make_outcome_type("saved_cancellation", measurement_window_hours=48, confirm_closes_window=True)

    def ev(account, event_id, hours, **fields):
        return factories.event_payload(account, event_id, occurred_at=at(hours), **fields)

    a, b = account_a, account_b
    factories.ingest(
        ev(a, "ok", 0),
        ev(a, "sandbox", 0, sandbox=True),
        *[ev(a, f"failed-{r}", 0, failure_reason=r) for r in ("abandoned", "workflow_failed", "no_show")],
        ev(a, "handoff", 0, human_handoff=True),
        ev(a, "not-met", 0, success_criteria_met=False),
        ev(a, "s1-first", 1, session_id="s1"),
        ev(a, "s1-second", 2, session_id="s1"),
        ev(a, "s1-third", 3, session_id="s1"),
        ev(a, "s2-first", 1, session_id="s2"),
        ev(a, "reversed", 1),
        ev(a, "twice", 1),
        ev(a, "lead-ok", 1, outcome_type="qualified_lead", verification_method="crm_accepted"),
        ev(a, "lead-llm", 1, outcome_type="qualified_lead", verification_method="llm_verified"),
        ev(a, "lead-sms", 1, outcome_type="qualified_lead", verification_method="crm_accepted", channel="sms"),
        ev(a, "save", 1, outcome_type="saved_cancellation"),
        ev(b, "ok", 1),
        ev(b, "s1-first", 1, session_id="s1"),
        now=at(4),
    )
    # A later batch: one more event of s2 (a duplicate of s2-first).
    factories.ingest(ev(a, "s2-second", 5, session_id="s2"), now=at(6))

    signal("s1-first", "reopened", 7, now_hours=8)  # applied: s1 is free again
    signal("reversed", "reversed", 7, now_hours=8)  # applied
    signal("twice", "escalated", 7, now_hours=8)  # applied
    signal("twice", "reopened", 8, now_hours=9)  # no effect: already non-billable
    signal("save", "confirmed", 10, now_hours=11)  # applied: the window closes at +10 h
    signal("ok", "confirmed", 10, now_hours=11)  # no effect: the type does not allow it
    with pytest.raises(WindowClosed):
        signal("lead-ok", "reversed", 12, now_hours=12)  # billable at once (0 h window): recorded only

    factories.ingest(ev(a, "s1-fourth", 12, session_id="s1"), now=at(12))  # takes the freed claim

    # Version 2 of the product definition, and an enterprise override for globex.
    criteria_version_create(outcome_type=rc, account=None, measurement_window_hours=24)
    criteria_version_create(outcome_type=rc, account=b, excluded_workflows=["support.faq"])
    factories.ingest(
        ev(a, "v2-ok", 13),
        ev(b, "override-faq", 13, workflow="support.faq"),
        ev(b, "override-ok", 13, workflow="support.refund"),
        now=at(14),
    )
    assert outcomes_settle(now=at(40)) == 2  # v2-ok and override-ok: 24-hour windows, ended at +37 h
    return Event.objects.count()


def replay(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("replay_decisions", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_the_dataset_covers_what_replay_must_agree_on(dataset):
    decisions = dict(Event.objects.filter(account__external_id="acme").values_list("event_id", "non_billable_reason"))
    assert decisions == {
        "ok": "",
        "sandbox": "sandbox",
        "failed-abandoned": "abandoned",
        "failed-workflow_failed": "workflow_failed",
        "failed-no_show": "no_show",
        "handoff": "human_handoff",
        "not-met": "criteria_not_met",
        "s1-first": "reopened_in_window",
        "s1-second": "duplicate_in_session",
        "s1-third": "duplicate_in_session",
        "s1-fourth": "",
        "s2-first": "",
        "s2-second": "duplicate_in_session",
        "reversed": "reversed_in_window",
        "twice": "escalated_in_window",
        "lead-ok": "",
        "lead-llm": "verification_failed",
        "lead-sms": "criteria_not_met",
        "save": "",
        "v2-ok": "",
    }
    assert dict(Event.objects.filter(account__external_id="globex").values_list("event_id", "non_billable_reason")) == {
        "ok": "",
        "s1-first": "",
        "override-faq": "criteria_not_met",
        "override-ok": "",
    }
    assert sorted(Signal.objects.values_list("effect", flat=True)) == [
        "applied",
        "applied",
        "applied",
        "applied",
        "no_effect",
        "no_effect",
        "window_closed",
    ]
    assert set(Event.objects.values_list("criteria__version", "criteria__account__external_id")) == {
        (1, None),
        (1, "globex"),
        (2, None),
    }
    assert sorted(Event.objects.values_list("status", flat=True).distinct()) == ["billable", "non_billable", "pending"]


def test_replay_reports_no_difference_on_a_varied_dataset(dataset):
    code, output = replay("--now", at(40).isoformat())

    assert code == 0
    assert output == f"Replayed {dataset} decisions: 0 differ.\n"
    assert dataset == 24


def test_replay_agrees_later_too_when_pending_windows_have_closed_without_settlement(dataset):
    code, output = replay("--now", at(24 * 30).isoformat())
    assert (code, output) == (0, "Replayed 24 decisions: 0 differ.\n")


def test_replay_reports_a_tampered_decision_and_exits_1(dataset):
    Event.objects.filter(account__external_id="acme", event_id="ok").update(
        status="non_billable", non_billable_reason="criteria_not_met"
    )

    code, output = replay("--now", at(40).isoformat())

    assert code == 1
    assert output == (
        "DIFF ok: stored ('non_billable', 'criteria_not_met') replayed ('pending', '')\n"
        "Replayed 24 decisions: 1 differ.\n"
    )


def test_replay_reports_tampered_checks_even_when_status_and_reason_agree(dataset):
    event = Event.objects.get(account__external_id="acme", event_id="handoff")
    checks = [list(check) for check in event.checks]
    assert checks[-1] == ["not_escalated", "passed"]
    checks[-1][1] = "n/a"
    Event.objects.filter(pk=event.pk).update(checks=checks)

    code, output = replay("--now", at(40).isoformat())

    assert code == 1
    assert output == (
        "DIFF handoff: stored ('non_billable', 'human_handoff') replayed ('non_billable', 'human_handoff')\n"
        "Replayed 24 decisions: 1 differ.\n"
    )


def test_replay_reports_a_tampered_raw_event(dataset):
    Event.objects.filter(account__external_id="globex", event_id="ok").update(sandbox=True)

    code, output = replay("--account", "globex", "--now", at(40).isoformat())

    assert code == 1
    assert output == (
        "DIFF ok: stored ('pending', '') replayed ('non_billable', 'sandbox')\nReplayed 4 decisions: 1 differ.\n"
    )


def test_replay_of_one_account(dataset):
    assert replay("--account", "globex", "--now", at(40).isoformat()) == (0, "Replayed 4 decisions: 0 differ.\n")


def test_what_billing_does_with_a_charge_never_changes_the_replayed_decision(dataset):
    # Invoicing, disputes and credits move the charge (billing's ledger), never metering's decision.
    event = Event.objects.get(account__external_id="acme", event_id="lead-ok")
    Charge.objects.filter(event_id=event.pk).update(state="credited", reason="dispute_credited")
    assert replay("--now", at(40).isoformat()) == (0, "Replayed 24 decisions: 0 differ.\n")
