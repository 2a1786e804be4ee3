"""Ingestion internals that must hold across batches: the staging table, amounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from metering import engine
from metering.models import Event, SessionClaim
from metering.validation import EventError, event_parse
from tests import factories

pytestmark = pytest.mark.django_db


def test_two_batches_in_one_transaction_claim_only_their_own_sessions(account_a, outcome_type):
    t = timezone.now() - timedelta(hours=5)
    with transaction.atomic():  # the staging table keeps its rows until commit
        first = factories.ingest(factories.event_payload(account_a, "a", occurred_at=t, session_id="s1"))
        second = factories.ingest(
            factories.event_payload(account_a, "b", occurred_at=t, session_id="s2"),
            factories.event_payload(account_a, "c", occurred_at=t + timedelta(minutes=1), session_id="s1"),
        )

    assert (first.accepted, second.accepted) == (1, 2)
    claims = dict(SessionClaim.objects.values_list("session_id", "event_key"))
    assert claims == {"s1": "a", "s2": "b"}
    decided = dict(Event.objects.values_list("event_id", "non_billable_reason"))
    assert decided == {"a": "", "b": "", "c": "duplicate_in_session"}
    holder = SessionClaim.objects.get(session_id="s2")
    stored = Event.objects.get(event_id="b")
    assert (holder.event_id, holder.occurred_at, holder.renewable_after) == (stored.pk, stored.occurred_at, None)


def test_a_new_outcome_claim_is_renewable_after_the_holders_window(account_a):
    factories.make_outcome_type(measurement_window_hours=24, reopen_after_window="new_outcome")
    t = datetime(2026, 11, 1, 9, 30, 15, 123456, tzinfo=UTC)
    factories.ingest(
        factories.event_payload(account_a, "a", occurred_at=t, session_id="s1"), now=t + timedelta(hours=1)
    )

    claim = SessionClaim.objects.get()
    assert (claim.event_key, claim.occurred_at, claim.renewable_after) == ("a", t, t + timedelta(hours=24))


def test_the_batch_constants_are_stored_exactly(account_a, outcome_type):
    now = datetime(2026, 11, 20, 12, 0, 0, 654321, tzinfo=UTC)
    factories.ingest(
        factories.event_payload(account_a, "closed", occurred_at=now - timedelta(days=4)),
        factories.event_payload(account_a, "open", occurred_at=now - timedelta(hours=1)),
        factories.event_payload(account_a, "test", occurred_at=now - timedelta(days=4), sandbox=True),
        now=now,
    )

    stored = {e.event_id: (e.status, e.received_at, e.decided_at, e.settled_at, e.state) for e in Event.objects.all()}
    assert stored == {
        "closed": ("billable", now, now, now, {}),
        "open": ("pending", now, now, None, {}),
        "test": ("non_billable", now, now, None, {}),
    }


def test_each_row_stores_its_own_checks_list(account_a, outcome_type):
    factories.ingest(
        factories.event_payload(account_a, "ok"),
        factories.event_payload(account_a, "test", sandbox=True),
        factories.event_payload(account_a, "handed", human_handoff=True),
        factories.event_payload(account_a, "ok-too"),
    )

    failed = {e.event_id: [code for code, outcome in e.checks if outcome == "failed"] for e in Event.objects.all()}
    assert failed == {"ok": [], "test": ["not_sandbox"], "handed": ["no_human_handoff"], "ok-too": []}
    assert {tuple(code for code, _ in e.checks) for e in Event.objects.all()} == {engine.CHECK_ORDER}


NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def amount(value):
    raw = {
        "event_id": "evt-1",
        "account": "acme",
        "outcome_type": "resolved_conversation",
        "occurred_at": "2026-11-20T10:00:00Z",
        "success_criteria_met": True,
        "value_amount": value,
    }
    parsed = event_parse(raw, now=NOW, late_window=timedelta(days=35), future_tolerance=timedelta(minutes=5))
    return parsed.fields["value_amount"][0] if isinstance(parsed, EventError) else parsed.value_amount


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # The plain form (at most 12 integer digits and 6 places, unsigned) and its edges.
        ("0", Decimal("0")),
        ("007", Decimal("7")),
        ("0.000001", Decimal("0.000001")),
        ("999999999999.999999", Decimal("999999999999.999999")),
        # Everything else is refused, with the reason.
        ("1000000000000", "Must be a finite decimal below 10^12."),
        ("1.0000000", "At most 6 decimal places."),
        ("0E-7", "At most 6 decimal places."),
        ("-Infinity", "Must be a finite decimal below 10^12."),
        ("-0.000001", "Must not be negative."),
        # What Decimal() reads but an amount never is: a sign, an exponent, spaces, underscores,
        # a bare point, digits of another script.
        ("+5", 'Must be a decimal string such as "12.50".'),
        ("1.", 'Must be a decimal string such as "12.50".'),
        (".5", 'Must be a decimal string such as "12.50".'),
        ("1e3", 'Must be a decimal string such as "12.50".'),
        (" 12.5 ", 'Must be a decimal string such as "12.50".'),
        ("1_000", 'Must be a decimal string such as "12.50".'),
        ("١٢", 'Must be a decimal string such as "12.50".'),
    ],
)
def test_decimal_amounts_plain_or_not(value, expected):
    got = amount(value)
    assert got == expected
    if isinstance(expected, Decimal):
        assert got.as_tuple() == Decimal(value).as_tuple()  # stored exactly as written


def test_text_with_copy_special_characters_is_stored_exactly(account_a, outcome_type):
    awkward = "tab\there, line\nbreak, return\r, back\\slash \\N, \\t literal, quote \" ' , ünïcødé ✓"
    payload = factories.event_payload(
        account_a,
        "odd\\id\tx",
        channel=awkward[:64],
        workflow=awkward,
        session_id=awkward,
        verification_method=awkward[:64],
        source_url="https://example.com/a\\b?q=1",
        cost_amount="0.1234",
        attributes={"note": awkward, "nested": {"list": [awkward, "\\"]}, "k\tey": 1},
    )
    assert factories.ingest(payload).accepted == 1

    stored = Event.objects.get()
    assert (stored.event_id, stored.channel, stored.workflow, stored.session_id, stored.verification_method) == (
        "odd\\id\tx",
        awkward[:64],
        awkward,
        awkward,
        awkward[:64],
    )
    assert (stored.source_url, stored.cost_amount) == ("https://example.com/a\\b?q=1", Decimal("0.1234"))
    assert stored.attributes == payload["attributes"]
    assert factories.ingest(payload).duplicates == 1  # the stored payload hashes as the re-post does
