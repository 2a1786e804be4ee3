"""Idempotency and one-per-session under real concurrency: threads, each with its own connection.

These tests commit (``transaction=True``): locking between connections is the point.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import orjson
import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from billing.ingestion import events_ingest, outcomes_settle
from billing.ledger.models import Charge
from metering.models import Event, SessionClaim, Signal
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 8


def run_in_threads(target: Callable[[int], object], count: int = THREADS) -> list[object]:
    """Run ``target(i)`` in ``count`` threads released together; return results, raise the first error."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = target(i)
        except BaseException as exc:  # collected and re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()  # each thread has its own connection: close it

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck (deadlock?)"
    if errors:
        raise errors[0]
    return results


def batch_of(account, size: int, prefix: str = "evt") -> list[dict]:
    base = timezone.now() - timedelta(hours=2)
    return [
        factories.event_payload(account, f"{prefix}-{i:04d}", occurred_at=base + timedelta(seconds=i), channel="chat")
        for i in range(size)
    ]


def test_eight_connections_ingesting_the_same_batch_store_each_event_once(account_a, outcome_type):
    batch = batch_of(account_a, 500)

    results = run_in_threads(lambda i: events_ingest(raw_events=batch))

    assert sum(r.accepted for r in results) == 500
    assert sum(r.duplicates for r in results) == 7 * 500
    assert sum(r.conflicts + r.rejected for r in results) == 0
    for r in results:
        assert [x["event_id"] for x in r.results] == [e["event_id"] for e in batch]
        assert len(r.accepted_ids) == r.accepted
    # Each event was accepted by exactly one of the eight.
    accepted = Counter(x["event_id"] for r in results for x in r.results if x["status"] == "accepted")
    assert set(accepted.values()) == {1}
    assert len(accepted) == 500
    assert Event.objects.count() == 500
    assert Event.objects.filter(status="pending").count() == 500


def test_eight_clients_posting_the_same_batch_over_http(account_a, outcome_type):
    key = factories.vendor_key()
    body = orjson.dumps({"events": batch_of(account_a, 500)})

    def post(i: int) -> dict:
        response = Client(HTTP_AUTHORIZATION=f"Bearer {key}").post(
            "/api/v1/events", body, content_type="application/json"
        )
        assert response.status_code == 200, response.content[:300]
        return response.json()

    results = run_in_threads(post)

    assert sum(r["accepted"] for r in results) == 500
    assert sum(r["duplicates"] for r in results) == 3500
    assert sum(r["conflicts"] + r["rejected"] for r in results) == 0
    assert Event.objects.count() == 500


def test_concurrent_batches_sharing_sessions_bill_one_outcome_per_session(account_a, outcome_type):
    """Different events of the same 60 sessions, posted by 8 clients in crossing orders."""
    sessions = [f"sess-{s:02d}" for s in range(60)]
    base = timezone.now() - timedelta(hours=3)
    batches = []
    for t in range(THREADS):
        events = [
            factories.event_payload(
                account_a,
                f"t{t}-{session}",
                occurred_at=base + timedelta(minutes=t if s % 2 else THREADS - t, seconds=s),
                session_id=session,
            )
            for s, session in enumerate(sessions)
        ]
        batches.append(events if t % 2 else list(reversed(events)))

    results = run_in_threads(lambda i: events_ingest(raw_events=batches[i]))

    assert sum(r.accepted for r in results) == THREADS * 60
    assert Event.objects.count() == THREADS * 60
    claims = {c.session_id: c for c in SessionClaim.objects.select_related("event")}
    assert sorted(claims) == sessions
    for session in sessions:
        events = list(Event.objects.filter(session_id=session))
        candidates = [e for e in events if e.status != "non_billable"]
        assert len(candidates) == 1, session
        assert claims[session].event == candidates[0]
        for loser in events:
            if loser != candidates[0]:
                assert loser.non_billable_reason == "duplicate_in_session"
                assert loser.state == {"session_taken_by": claims[session].event_key}
                assert not Charge.objects.filter(event_id=loser.pk).exists()  # a duplicate costs nothing
    assert Event.objects.filter(status="pending").count() == 60


def test_two_concurrent_settlement_runs_settle_each_event_once(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=1)
    now = timezone.now()
    events = batch_of(account_a, 1000)
    ingest_at = now - timedelta(hours=2) + timedelta(seconds=1000)
    result = events_ingest(raw_events=events, now=ingest_at)
    assert result.accepted == 1000
    assert Event.objects.filter(status="pending").count() == 1000
    settle_at = now.replace(microsecond=0)

    settled = run_in_threads(lambda i: outcomes_settle(now=settle_at, chunk=50), count=2)

    assert sum(settled) == 1000
    assert Event.objects.filter(status="billable", settled_at=settle_at).count() == 1000
    assert outcomes_settle(now=settle_at) == 0


def test_the_same_signal_posted_by_two_clients_at_once_is_recorded_once(account_a, outcome_type):
    key = factories.vendor_key()
    at = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    events_ingest(raw_events=[factories.event_payload(account_a, "evt-1", occurred_at=at, session_id="s1")])
    body = orjson.dumps({"type": "reopened", "occurred_at": (at + timedelta(minutes=30)).isoformat()})

    def post(i: int) -> int:
        client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client.post("/api/v1/events/acme/evt-1/signals", body, content_type="application/json").status_code

    statuses = run_in_threads(post, count=4)

    assert sorted(statuses) == [200, 200, 200, 201]
    assert list(Signal.objects.values_list("type", "effect")) == [("reopened", "applied")]
    assert Event.objects.get().non_billable_reason == "reopened_in_window"
    assert SessionClaim.objects.count() == 0
