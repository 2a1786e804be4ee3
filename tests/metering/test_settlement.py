"""manage.py settle_outcomes --now T: closes measurement windows, set-based, safe to run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import JobRun
from billing.ingestion import outcomes_settle
from billing.ledger.models import Charge
from metering.models import Event
from tests import factories

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)


@pytest.fixture
def pending(account_a):
    """Three pending outcomes of a 24-hour type whose windows end at T0 - 6 h, T0 + 4 h, T0 + 14 h."""
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24)
    factories.ingest(
        factories.event_payload(account_a, "ends-early", occurred_at=T0 - 30 * H),
        factories.event_payload(account_a, "ends-at-t", occurred_at=T0 - 20 * H),
        factories.event_payload(account_a, "ends-late", occurred_at=T0 - 10 * H),
        factories.event_payload(account_a, "sandbox", occurred_at=T0 - 30 * H, sandbox=True),
        now=T0 - 10 * H,
    )
    assert dict(Event.objects.values_list("event_id", "status")) == {
        "ends-early": "pending",
        "ends-at-t": "pending",
        "ends-late": "pending",
        "sandbox": "non_billable",
    }


def settle(now: datetime) -> str:
    out = StringIO()
    call_command("settle_outcomes", "--now", now.isoformat().replace("+00:00", "Z"), stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, tuple]:
    """Each event's decision with its charge's amount and state (metering's and billing's, settled together)."""
    charges = {c.event_id: c for c in Charge.objects.all()}
    return {
        e.event_id: (
            e.status, e.settled_at, charges[e.pk].amount if e.pk in charges else None, e.non_billable_reason,
            e.decided_at, charges[e.pk].state if e.pk in charges else None,
        )
        for e in Event.objects.all()
    }  # fmt: skip


def test_only_events_whose_window_ended_by_t_become_billable_settled_at_t(pending):
    t = T0 + 4 * H
    output = settle(t)

    assert output.startswith("Settled 2 events in ")
    rows = snapshot()
    assert rows["ends-early"][:3] == ("billable", t, Decimal("0.990000"))
    assert rows["ends-at-t"][:3] == ("billable", t, Decimal("0.990000"))  # window_ends_at == T settles
    assert rows["ends-late"][:2] == ("pending", None)
    assert rows["sandbox"][:4] == ("non_billable", None, None, "sandbox")


def test_running_twice_changes_nothing(pending):
    settle(T0 + 4 * H)
    before = snapshot()

    output = settle(T0 + 4 * H)

    assert output.startswith("Settled 0 events in ")
    assert snapshot() == before


def test_a_later_run_settles_the_rest_and_keeps_earlier_settlement_times(pending):
    settle(T0 + 4 * H)
    assert settle(T0 + 20 * H).startswith("Settled 1 events in ")

    rows = snapshot()
    assert rows["ends-early"][:2] == ("billable", T0 + 4 * H)
    assert rows["ends-late"][:2] == ("billable", T0 + 20 * H)
    assert Event.objects.filter(status="pending").count() == 0


def test_settling_before_any_window_ends_does_nothing(pending):
    before = snapshot()
    assert settle(T0 - 7 * H).startswith("Settled 0 events in ")
    assert snapshot() == before


def test_each_run_is_recorded_as_a_job_run(pending):
    settle(T0 + 4 * H)
    settle(T0 + 4 * H)

    runs = list(JobRun.objects.filter(name="settle_outcomes").order_by("id"))
    assert [(r.scope, r.status, r.result, r.error) for r in runs] == [
        ("now=2026-11-01T04:00:00+00:00", "succeeded", {"settled": 2}, ""),
        ("now=2026-11-01T04:00:00+00:00", "succeeded", {"settled": 0}, ""),
    ]
    assert all(r.finished_at is not None and r.finished_at >= r.started_at for r in runs)


def test_settlement_works_through_chunks(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=1)
    factories.ingest(
        *[factories.event_payload(account_a, f"evt-{i}", occurred_at=T0 - 2 * H) for i in range(7)],
        now=T0 - 2 * H,
    )
    assert outcomes_settle(now=T0, chunk=3) == 7
    assert outcomes_settle(now=T0, chunk=3) == 0
    assert list(Event.objects.values_list("status", "settled_at").distinct()) == [("billable", T0)]


def test_a_bad_now_is_a_command_error(pending):
    with pytest.raises(CommandError, match="--now must be an RFC 3339 timestamp"):
        call_command("settle_outcomes", "--now", "tomorrow", stdout=StringIO())
    assert JobRun.objects.count() == 0
