"""POST /api/v1/events/{account}/{event_id}/signals: reopen, reversal, escalation, confirmation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from metering.models import Event, SessionClaim, Signal
from metering.services import decision_replay
from tests import factories
from tests.conftest import key_client
from tests.metering.helpers import assert_error, post_json

pytestmark = pytest.mark.django_db
SIGNAL = frozenset({"signal"})  # a 409 window_closed also shows the recorded signal


def stamp(at) -> str:
    return at.isoformat().replace("+00:00", "Z")


def signals_url(event_id: str, account: str = "acme") -> str:
    return f"/api/v1/events/{account}/{event_id}/signals"


def post_signal(client, event_id: str, kind: str, at, account: str = "acme", **extra):
    return post_json(client, signals_url(event_id, account), {"type": kind, "occurred_at": stamp(at), **extra})


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def pending_in_session(account_a, outcome_type, now):
    """A pending outcome holding session sess-1, and a later success in the same session (a duplicate)."""
    result = factories.ingest(
        factories.event_payload(account_a, "evt-1", occurred_at=now - timedelta(hours=3), session_id="sess-1"),
        factories.event_payload(account_a, "evt-2", occurred_at=now - timedelta(hours=2), session_id="sess-1"),
    )
    assert result.accepted == 2
    return Event.objects.get(event_id="evt-1")


@pytest.mark.parametrize("kind", ["reopened", "reversed", "escalated"])
def test_a_negative_signal_inside_the_window_makes_the_outcome_non_billable(
    vendor_client, account_a, pending_in_session, now, kind
):
    assert Event.objects.get(event_id="evt-2").non_billable_reason == "duplicate_in_session"
    assert SessionClaim.objects.get().event_id == pending_in_session.pk

    response = post_signal(vendor_client, "evt-1", kind, now - timedelta(hours=1), note="customer wrote back")

    assert response.status_code == 201
    body = response.json()
    assert body["signal"]["type"] == kind
    assert body["signal"]["occurred_at"] == stamp(now - timedelta(hours=1))
    assert (body["signal"]["effect"], body["signal"]["note"]) == ("applied", "customer wrote back")
    assert body["event"]["status"] == "non_billable"
    assert body["event"]["non_billable_reason"] == f"{kind}_in_window"
    assert (body["event"]["amount"], body["event"]["credits"]) == (None, None)

    event = factories.event_seen(pending_in_session.event_id)
    assert (event.status, event.non_billable_reason, event.amount) == ("non_billable", f"{kind}_in_window", None)
    assert event.charge.state == "void"  # the charge the outcome had is void: it costs nothing
    assert dict(event.checks)[f"not_{kind}"] == "failed"
    assert Signal.objects.get().effect == "applied"
    # The session's one billable outcome is free again...
    assert SessionClaim.objects.count() == 0
    # ...so a later success in the same session can be billed.
    factories.ingest(
        factories.event_payload(account_a, "evt-3", occurred_at=now - timedelta(minutes=30), session_id="sess-1")
    )
    later = factories.event_seen("evt-3")
    assert (later.status, later.non_billable_reason, later.amount) == ("pending", "", Decimal("0.990000"))
    assert SessionClaim.objects.get().event_id == later.pk
    # The duplicate posted before the reopen keeps its decision.
    assert Event.objects.get(event_id="evt-2").non_billable_reason == "duplicate_in_session"


def test_the_same_signal_twice_has_no_second_effect(vendor_client, pending_in_session, now):
    at = now - timedelta(hours=1)
    first = post_signal(vendor_client, "evt-1", "reopened", at)
    second = post_signal(vendor_client, "evt-1", "reopened", at, note="posted again")

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["signal"] == first.json()["signal"]
    assert second.json()["event"] == first.json()["event"]
    assert Signal.objects.count() == 1
    assert Signal.objects.get().note == ""


def test_another_signal_of_the_same_type_at_another_time_is_recorded(vendor_client, pending_in_session, now):
    assert post_signal(vendor_client, "evt-1", "reopened", now - timedelta(hours=2)).status_code == 201
    response = post_signal(vendor_client, "evt-1", "reopened", now - timedelta(hours=1))

    assert response.status_code == 201
    assert response.json()["signal"]["effect"] == "no_effect"
    assert Signal.objects.count() == 2
    assert Event.objects.get(pk=pending_in_session.pk).non_billable_reason == "reopened_in_window"


@pytest.fixture
def billable_event(account_a, now):
    factories.make_outcome_type("qualified_lead", unit_price="5.00", measurement_window_hours=1)
    factories.ingest(
        factories.event_payload(
            account_a, "lead-1", occurred_at=now - timedelta(hours=3), outcome_type="qualified_lead"
        )
    )
    event = factories.event_seen("lead-1")
    assert (event.status, event.amount) == ("billable", Decimal("5.000000"))
    return event


def test_a_signal_after_the_window_is_409_window_closed_and_recorded(vendor_client, billable_event, now):
    at = now - timedelta(hours=1)  # the window closed at now - 2 h
    response = post_signal(vendor_client, "lead-1", "reversed", at)

    error = assert_error(response, 409, "window_closed", fields=None, extra=SIGNAL)
    assert error["message"] == (
        f"The measurement window of 'lead-1' closed at {stamp(now - timedelta(hours=2))}; the signal is recorded "
        "but changes nothing billed. File a dispute to contest a charge."
    )
    assert response.json()["signal"] == {"type": "reversed", "occurred_at": stamp(at), "effect": "window_closed"}
    signal = Signal.objects.get()
    assert (signal.type, signal.occurred_at, signal.effect) == ("reversed", at, "window_closed")
    event = factories.event_seen(billable_event.event_id)
    assert (event.status, event.non_billable_reason, event.amount) == ("billable", "", Decimal("5.000000"))

    # Posting it again: the same answer, still one row.
    assert_error(post_signal(vendor_client, "lead-1", "reversed", at), 409, "window_closed", None, SIGNAL)
    assert Signal.objects.count() == 1


def test_a_signal_at_the_exact_end_of_the_window_is_after_it(vendor_client, account_a, outcome_type, now):
    factories.ingest(
        factories.event_payload(account_a, "evt-1", occurred_at=now - timedelta(hours=72) + timedelta(minutes=2))
    )
    event = Event.objects.get()
    assert (event.status, event.window_ends_at) == ("pending", now + timedelta(minutes=2))

    response = post_signal(vendor_client, "evt-1", "reopened", event.window_ends_at)

    assert_error(response, 409, "window_closed", fields=None, extra=SIGNAL)
    assert Event.objects.get().status == "pending"
    assert Signal.objects.get().effect == "window_closed"


def test_a_signal_inside_the_window_reported_before_settlement_still_counts(
    vendor_client, account_a, outcome_type, now
):
    # The window closed 2 h ago, but settlement has not run: the event is still pending.
    factories.ingest(factories.event_payload(account_a, "evt-1", occurred_at=now - timedelta(hours=74)))
    Event.objects.update(status="pending", settled_at=None)

    response = post_signal(vendor_client, "evt-1", "escalated", now - timedelta(hours=73))

    assert response.status_code == 201
    event = Event.objects.get()
    assert (event.status, event.non_billable_reason) == ("non_billable", "escalated_in_window")
    assert decision_replay(event=event) is None


def test_a_signal_reported_after_the_event_billed_changes_nothing_even_if_dated_inside_the_window(
    vendor_client, account_a, outcome_type, now
):
    factories.ingest(factories.event_payload(account_a, "evt-1", occurred_at=now - timedelta(hours=80)))
    assert Event.objects.get().status == "billable"  # posted after its window: billable at once

    response = post_signal(vendor_client, "evt-1", "escalated", now - timedelta(hours=79))

    assert_error(response, 409, "window_closed", fields=None, extra=SIGNAL)
    event = factories.event_seen("evt-1")
    assert (event.status, event.amount) == ("billable", Decimal("0.990000"))
    # Replay decides from the signals that changed the decision: it agrees with what was billed.
    assert decision_replay(event=event) is None


def test_a_signal_dated_before_the_outcome_happened_changes_nothing(vendor_client, pending_in_session, now):
    # evt-1 occurred 3 h ago: a reopen 4 h ago belongs to an earlier state of the conversation.
    response = post_signal(vendor_client, "evt-1", "reopened", now - timedelta(hours=4))

    assert response.status_code == 201
    assert response.json()["signal"]["effect"] == "no_effect"
    event = Event.objects.get(pk=pending_in_session.pk)
    assert (event.status, event.non_billable_reason) == ("pending", "")
    assert SessionClaim.objects.get().event_id == event.pk


def test_a_signal_on_a_non_billable_event_is_recorded_without_effect(vendor_client, account_a, outcome_type, now):
    factories.ingest(factories.event_payload(account_a, "evt-1", occurred_at=now - timedelta(hours=2), sandbox=True))
    response = post_signal(vendor_client, "evt-1", "reopened", now - timedelta(hours=1))

    assert response.status_code == 201
    assert response.json()["signal"]["effect"] == "no_effect"
    assert Event.objects.get().non_billable_reason == "sandbox"


def test_confirmed_closes_the_window_when_the_type_allows_it(vendor_client, account_a, now):
    factories.make_outcome_type("saved_cancellation", confirm_closes_window=True)
    factories.ingest(
        factories.event_payload(
            account_a, "save-1", occurred_at=now - timedelta(hours=5), outcome_type="saved_cancellation"
        )
    )
    confirmed_at = now - timedelta(hours=4)

    response = post_signal(vendor_client, "save-1", "confirmed", confirmed_at)

    assert response.status_code == 201
    body = response.json()
    assert body["signal"]["effect"] == "applied"
    assert body["event"]["measurement_window_ends_at"] == stamp(confirmed_at)
    assert (body["event"]["status"], body["event"]["amount"]) == ("billable", "0.990000")
    event = Event.objects.get()
    assert (event.status, event.window_ends_at) == ("billable", confirmed_at)
    assert event.settled_at is not None
    # A reopen after the (now closed) window changes nothing billed.
    late_reopen = post_signal(vendor_client, "save-1", "reopened", now - timedelta(hours=3))
    assert_error(late_reopen, 409, "window_closed", fields=None, extra=SIGNAL)
    assert decision_replay(event=Event.objects.get()) is None


def test_confirmed_changes_nothing_when_the_type_does_not_allow_it(vendor_client, pending_in_session, now):
    response = post_signal(vendor_client, "evt-1", "confirmed", now - timedelta(hours=1))

    assert response.status_code == 201
    assert response.json()["signal"]["effect"] == "no_effect"
    event = Event.objects.get(pk=pending_in_session.pk)
    assert (event.status, event.window_ends_at) == ("pending", pending_in_session.window_ends_at)


def test_a_signal_for_an_unknown_event_is_404(vendor_client, pending_in_session, now):
    assert_error(post_signal(vendor_client, "no-such-event", "reopened", now), 404, "not_found", fields=None)
    assert_error(post_signal(vendor_client, "evt-1", "reopened", now, account="globex"), 404, "not_found", fields=None)
    assert Signal.objects.count() == 0


def test_a_signal_in_the_future_is_400(vendor_client, pending_in_session, now):
    response = post_signal(vendor_client, "evt-1", "reopened", timezone.now() + timedelta(minutes=6))

    assert_error(
        response, 400, "timestamp_out_of_range", fields={"occurred_at": ["More than 5 minutes in the future."]}
    )
    assert Signal.objects.count() == 0
    assert Event.objects.get(pk=pending_in_session.pk).status == "pending"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "resolved", "occurred_at": "2026-11-01T00:00:00Z"}, "type"),
        ({"occurred_at": "2026-11-01T00:00:00Z"}, "type"),
        ({"type": "reopened"}, "occurred_at"),
        ({"type": "reopened", "occurred_at": "last tuesday"}, "occurred_at"),
        ({"type": "reopened", "occurred_at": "2026-11-01T00:00:00Z", "note": "n" * 2001}, "note"),
    ],
)
def test_a_malformed_signal_is_400_with_its_field(vendor_client, pending_in_session, body, field):
    error = assert_error(post_json(vendor_client, signals_url("evt-1"), body), 400, "validation_error")
    assert list(error["fields"]) == [field]
    assert Signal.objects.count() == 0


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER])
def test_account_keys_may_not_post_signals(account_a, pending_in_session, now, role):
    response = post_signal(key_client(account_a, role), "evt-1", "reopened", now - timedelta(hours=1))
    assert_error(response, 403, "permission_denied", fields=None)
    assert Signal.objects.count() == 0


def test_signals_show_in_the_event_detail(vendor_client, pending_in_session, now):
    post_signal(vendor_client, "evt-1", "escalated", now - timedelta(hours=1), note="to tier 2")
    body = vendor_client.get("/api/v1/events/acme/evt-1").json()

    assert [(s["type"], s["effect"], s["note"]) for s in body["signals"]] == [("escalated", "applied", "to tier 2")]
    assert body["decision"]["non_billable_reason"] == "escalated_in_window"


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("escalated", "reopened", "escalated_in_window"),
        ("reopened", "escalated", "reopened_in_window"),
        ("reversed", "reopened", "reversed_in_window"),
    ],
)
def test_a_second_negative_signal_is_recorded_without_effect_and_replay_agrees(
    vendor_client, pending_in_session, now, first, second, reason
):
    """The first negative signal decides; later ones are recorded with effect no_effect."""
    assert post_signal(vendor_client, "evt-1", first, now - timedelta(hours=2)).status_code == 201
    response = post_signal(vendor_client, "evt-1", second, now - timedelta(hours=1))

    assert response.status_code == 201
    assert response.json()["signal"]["effect"] == "no_effect"
    event = Event.objects.get(pk=pending_in_session.pk)
    assert (event.status, event.non_billable_reason) == ("non_billable", reason)
    assert decision_replay(event=event) is None
    detail = vendor_client.get("/api/v1/events/acme/evt-1").json()
    assert [(s["type"], s["effect"]) for s in detail["signals"]] == [(first, "applied"), (second, "no_effect")]
