"""Settlement's work list (metering_pendingwindow): every pending event is queued, none is missed.

The queue is filled by a trigger on metering_event and emptied by ``outcomes_settle``; these
tests pin what must hold around it: every writer queues, late commits and signals in flight are
handled, a signal that brings a window end forward is honoured, the rollup stays exact.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from billing.ingestion import outcomes_settle, signal_record
from metering.models import Event, PendingWindow
from tests import factories
from tests.threads import in_thread

T0 = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)


def queued() -> dict[str, datetime]:
    return dict(PendingWindow.objects.values_list("event__event_id", "window_ends_at"))


def rollup_matches_events() -> bool:
    """Both rollups equal their rows, and every charge agrees with its event (tests.factories)."""
    return factories.rollups_match_rows()


@pytest.mark.django_db
def test_ingested_pending_events_are_queued_with_their_window_end_and_others_are_not(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24)
    factories.ingest(
        factories.event_payload(account_a, "pending", occurred_at=T0 - 2 * H),
        factories.event_payload(account_a, "sandbox", occurred_at=T0 - 2 * H, sandbox=True),
        factories.event_payload(account_a, "closed-at-ingest", occurred_at=T0 - 30 * H),
        now=T0,
    )

    assert dict(Event.objects.values_list("event_id", "status")) == {
        "pending": "pending",
        "sandbox": "non_billable",
        "closed-at-ingest": "billable",  # its window had closed: billable at once, nothing to settle
    }
    assert queued() == {"pending": T0 + 22 * H}


@pytest.mark.django_db
def test_a_pending_event_written_outside_ingestion_is_queued_and_settled(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24)
    factories.ingest(factories.event_payload(account_a, "original", occurred_at=T0 - 30 * H), now=T0 - 29 * H)
    original = Event.objects.get()
    # Any writer (the ORM here; seeds, scripts) goes through the same trigger.
    copy = Event.objects.create(
        **{
            f.attname: getattr(original, f.attname)
            for f in Event._meta.concrete_fields
            if f.attname not in ("id", "event_id")
        },
        event_id="copy",
    )

    assert set(queued()) == {"original", "copy"}
    assert outcomes_settle(now=T0) == 2
    copy.refresh_from_db()
    assert (copy.status, copy.settled_at) == ("billable", T0)
    assert queued() == {}
    assert rollup_matches_events()


@pytest.mark.django_db
def test_an_event_ruled_out_while_queued_stays_as_it_is_and_leaves_the_queue(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24)
    factories.ingest(
        factories.event_payload(account_a, "kept", occurred_at=T0 - 30 * H),
        factories.event_payload(account_a, "reopened", occurred_at=T0 - 30 * H, session_id="s2"),
        now=T0 - 29 * H,
    )
    reopened = Event.objects.get(event_id="reopened")
    signal_record(event=reopened, type="reopened", occurred_at=T0 - 28 * H, now=T0 - 27 * H)

    assert outcomes_settle(now=T0) == 1

    assert dict(Event.objects.values_list("event_id", "status")) == {"kept": "billable", "reopened": "non_billable"}
    assert Event.objects.get(event_id="reopened").settled_at is None
    assert queued() == {}
    assert rollup_matches_events()


@pytest.mark.django_db
def test_a_confirmation_that_brings_the_window_end_forward_settles_the_event_at_the_new_end(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24, confirm_closes_window=True)
    factories.ingest(factories.event_payload(account_a, "evt-1", occurred_at=T0 - 2 * H), now=T0 - H)
    event = Event.objects.get()
    # Dated an hour ahead of the clock that records it: the event stays pending, window ends T0 + 1 h.
    signal_record(event=event, type="confirmed", occurred_at=T0 + H, now=T0)
    event.refresh_from_db()
    assert (event.status, event.window_ends_at) == ("pending", T0 + H)
    assert queued() == {"evt-1": T0 + H}

    assert outcomes_settle(now=T0 + 2 * H) == 1  # the original end (T0 + 22 h) is far off

    event.refresh_from_db()
    assert (event.status, event.settled_at) == ("billable", T0 + 2 * H)


@pytest.mark.django_db(transaction=True)  # no deferred FK checks pending: TRUNCATE refuses them
def test_truncating_the_events_empties_the_queue(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24)
    factories.ingest(factories.event_payload(account_a, "evt-1", occurred_at=T0 - 2 * H), now=T0 - H)
    assert PendingWindow.objects.count() == 1

    with connection.cursor() as cursor:
        # Event ids restart: a queue row outliving its event would settle a stranger. The cascade reaches
        # the disputes' money tables, which only a superuser's maintenance session may empty (billing 0013).
        cursor.execute("SET outcomeportal.maintenance = on")
        try:
            cursor.execute("TRUNCATE metering_event RESTART IDENTITY CASCADE")
        finally:
            cursor.execute("RESET outcomeportal.maintenance")

    assert PendingWindow.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_ingestion_commits_after_a_settlement_run_is_settled_by_the_next_run(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=1)
    factories.ingest(factories.event_payload(account_a, "early", occurred_at=T0 - 3 * H), now=T0 - 3 * H)
    stored, release = threading.Event(), threading.Event()

    def ingest_slowly() -> None:
        with transaction.atomic():
            factories.ingest(factories.event_payload(account_a, "late", occurred_at=T0 - 3 * H), now=T0 - 3 * H)
            stored.set()
            assert release.wait(timeout=30)

    thread, errors = in_thread(ingest_slowly)
    assert stored.wait(timeout=30)
    # The run may wait for the ingestion's rollup row lock (same day, same type), as it always has.
    threading.Timer(0.5, release.set).start()
    assert outcomes_settle(now=T0) == 1  # "late" was not committed when the run began: not seen
    thread.join(timeout=30)
    assert not errors

    assert outcomes_settle(now=T0) == 1
    assert list(Event.objects.values_list("status", "settled_at").distinct()) == [("billable", T0)]
    assert queued() == {}
    assert rollup_matches_events()


@pytest.mark.django_db(transaction=True)
def test_settlement_waits_for_a_signal_in_flight_and_respects_its_result(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=1)
    factories.ingest(
        *[factories.event_payload(account_a, f"evt-{i}", occurred_at=T0 - 3 * H, session_id=f"s{i}") for i in range(5)],
        now=T0 - 2.5 * H,
    )
    target = Event.objects.get(event_id="evt-3")
    locked, release = threading.Event(), threading.Event()

    def reopen_slowly() -> None:
        with transaction.atomic():
            signal_record(event=target, type="reopened", occurred_at=T0 - 2.2 * H, now=T0)
            locked.set()  # the event row is locked and changed, not yet committed
            assert release.wait(timeout=30)
            time.sleep(0.3)  # let the settlement reach the locked row

    thread, errors = in_thread(reopen_slowly)
    assert locked.wait(timeout=30)
    threading.Timer(0.2, release.set).start()
    settled = outcomes_settle(now=T0)
    thread.join(timeout=30)
    assert not errors

    assert settled == 4
    target.refresh_from_db()
    assert (target.status, target.non_billable_reason) == ("non_billable", "reopened_in_window")
    assert target.settled_at is None
    assert Event.objects.filter(status="billable", settled_at=T0).count() == 4
    assert queued() == {}
    assert rollup_matches_events()


@pytest.mark.django_db(transaction=True)
def test_a_confirmation_does_not_wait_for_a_settlement_holding_the_queue_row(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24, confirm_closes_window=True)
    factories.ingest(factories.event_payload(account_a, "evt-1", occurred_at=T0 - 2 * H), now=T0 - H)
    event = Event.objects.get()
    held, release = threading.Event(), threading.Event()

    def hold_queue_row() -> None:  # what a settlement chunk does before it updates the event
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM metering_pendingwindow FOR UPDATE")
            held.set()
            assert release.wait(timeout=30)

    thread, errors = in_thread(hold_queue_row)
    assert held.wait(timeout=30)
    started = time.perf_counter()
    # Waiting here while holding the event's lock would deadlock with a real settlement.
    signal_record(event=event, type="confirmed", occurred_at=T0 + H, now=T0)
    waited = time.perf_counter() - started
    release.set()
    thread.join(timeout=30)
    assert not errors

    assert waited < 5
    event.refresh_from_db()
    assert (event.status, event.window_ends_at) == ("pending", T0 + H)


@pytest.mark.django_db(transaction=True)
def test_workers_share_the_due_rows_and_settle_each_event_once(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=1)
    factories.ingest(
        *[factories.event_payload(account_a, f"evt-{i}", occurred_at=T0 - 3 * H) for i in range(25)],
        now=T0 - 3 * H,
    )

    assert outcomes_settle(now=T0, chunk=4, workers=2) == 25

    assert list(Event.objects.values_list("status", "settled_at").distinct()) == [("billable", T0)]
    assert queued() == {}
    assert rollup_matches_events()
