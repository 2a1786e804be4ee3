"""The rollup's shards: concurrent batches do not queue on today's rows, and totals never change.

Each transaction adds to the rollup rows of its own shard (``txid_current() % 16``); readers sum
a key's rows; ``rollup_fold`` folds past days' shards back into shard 0.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from billing.credits import credit_summary
from metering.models import DailyRollup, Event
from metering.services import rollup_fold
from metering.tasks import fold_rollup
from tests import factories
from tests.threads import in_thread

D = Decimal


def totals() -> dict[tuple, tuple]:
    """Every key's figures, summed over its shards."""
    return {
        (r["account_id"], r["day"], r["outcome_type_id"], r["status"], r["non_billable_reason"]): (r["n"], r["a"])
        for r in DailyRollup.objects.values("account_id", "day", "outcome_type_id", "status", "non_billable_reason")
        .annotate(n=Sum("events"), a=Sum("amount"))
        .order_by()
    }


@pytest.mark.django_db(transaction=True)
def test_two_batches_of_the_same_day_in_flight_do_not_wait_for_each_other(account_a):
    factories.make_outcome_type("resolved_conversation", measurement_window_hours=24)
    now = datetime.now(UTC)
    stored, release = threading.Event(), threading.Event()

    def first_batch() -> None:
        with transaction.atomic():  # stays open, holding what it locked, until the test releases it
            factories.ingest(factories.event_payload(account_a, "first", occurred_at=now - timedelta(minutes=5)))
            stored.set()
            release.wait(timeout=30)

    thread, errors = in_thread(first_batch)
    try:
        assert stored.wait(timeout=30)
        # The same account, day, outcome type and status: before the shards, this batch waited for
        # the first one's commit on the rollup row and failed here after the lock timeout.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            factories.ingest(factories.event_payload(account_a, "second", occurred_at=now - timedelta(minutes=4)))
    finally:
        release.set()
        thread.join()
    assert not errors, errors

    assert Event.objects.count() == 2
    assert set(totals().values()) == {(2, D("1.98"))}  # one key (pending), both events, priced
    assert DailyRollup.objects.values("shard").distinct().count() == 2


@pytest.mark.django_db
def test_folding_sums_past_days_into_shard_0_and_leaves_today_and_every_total_alone(account_a, outcome_type):
    today, past = date(2026, 11, 20), date(2026, 11, 17)

    def row(day: date, status: str, shard: int, events: int, amount: str) -> None:
        DailyRollup.objects.create(
            account=account_a,
            day=day,
            outcome_type=outcome_type,
            status=status,
            non_billable_reason="",
            shard=shard,
            events=events,
            amount=D(amount),
            credits=D("0"),
        )

    row(past, "billable", 0, 10, "9.90")
    row(past, "billable", 3, 2, "1.98")
    row(past, "pending", 3, -2, "-1.98")  # moved from pending in shard 3 …
    row(past, "pending", 7, 2, "1.98")  # … after being counted in shard 7
    row(today, "pending", 5, 4, "3.96")
    row(today, "pending", 9, 1, "0.99")
    before = totals()

    assert rollup_fold(before=today) == 2  # past billable, past pending

    assert totals() == before
    shards = sorted(DailyRollup.objects.values_list("day", "status", "shard", "events"))
    assert shards == [
        (past, "billable", 0, 12),
        (past, "pending", 0, 0),
        (today, "pending", 5, 4),
        (today, "pending", 9, 1),
    ]
    assert rollup_fold(before=today) == 0  # nothing left to fold


@pytest.mark.django_db
def test_the_scheduled_fold_keeps_the_last_two_days_sharded(account_a, outcome_type):
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    for day, shard in [(date(2026, 11, 17), 4), (date(2026, 11, 18), 4), (date(2026, 11, 19), 4)]:
        DailyRollup.objects.create(
            account=account_a, day=day, outcome_type=outcome_type, status="billable", non_billable_reason="",
            shard=shard, events=1, amount=D("0.99"), credits=D("0"),
        )  # fmt: skip

    assert fold_rollup(now=now) == 2

    assert sorted(DailyRollup.objects.values_list("day", "shard")) == [
        (date(2026, 11, 17), 0),
        (date(2026, 11, 18), 0),
        (date(2026, 11, 19), 4),  # a day in some time zone may still be today
    ]


@pytest.mark.django_db
def test_credits_used_are_summed_over_shards_including_negative_ones(account_a, outcome_type):
    now = datetime.now(UTC)
    day = now.date()
    for status, shard, credits in [("billable", 2, "5.0000"), ("billable", 6, "-2.0000"), ("pending", 6, "2.0000")]:
        DailyRollup.objects.create(
            account=account_a, day=day, outcome_type=outcome_type, status=status, non_billable_reason="",
            shard=shard, events=1, amount=D("0"), credits=D(credits),
        )  # fmt: skip

    summary = credit_summary(account=account_a, now=now)

    assert (summary.billed, summary.pending) == (D("3.0000"), D("2.0000"))


@pytest.mark.django_db
def test_the_fold_command_runs_the_job_and_records_it(account_a, outcome_type):
    from io import StringIO

    from django.core.management import call_command

    from accounts.models import JobRun

    DailyRollup.objects.create(
        account=account_a, day=date(2026, 11, 1), outcome_type=outcome_type, status="billable",
        non_billable_reason="", shard=11, events=3, amount=D("2.97"), credits=D("0"),
    )  # fmt: skip
    out = StringIO()

    call_command("fold_rollup", "--now", "2026-11-20T12:00:00Z", stdout=out)

    assert out.getvalue().startswith("Folded 1 rollup keys")
    assert list(DailyRollup.objects.values_list("shard", "events")) == [(0, 3)]
    run = JobRun.objects.get(name="fold_rollup")
    assert (run.scope, run.result) == ("before=2026-11-19", {"keys_folded": 1})
