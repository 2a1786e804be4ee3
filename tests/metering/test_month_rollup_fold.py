"""The month rollups are folded on demand: the triggers mark the account-months a statement touched,
a fold rebuilds them from the day rollups, and a mark whose writer has not committed survives it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from billing.ingestion import outcomes_settle
from billing.ledger.models import ChargeMonthMark, ChargeMonthRollup
from billing.ledger.month_rollup import month_rollups_fold
from metering.models import MonthlyRollup, MonthlyRollupMark
from tests import factories
from tests.threads import in_thread


def _statuses(account) -> dict[str, int]:
    return dict(MonthlyRollup.objects.filter(account=account).values_list("status", "events"))


def _month_events(account) -> int:
    return sum(r.events for r in MonthlyRollup.objects.filter(account=account))


@pytest.mark.django_db
def test_ingestion_marks_its_months_and_a_fold_makes_them_exact():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    now = timezone.now()
    earlier = now - timedelta(days=40)
    factories.ingest(*(factories.event_payload(account, f"e{i}", occurred_at=now) for i in range(3)), now=now)
    factories.ingest(factories.event_payload(account, "old", occurred_at=earlier), now=earlier)

    months = set(MonthlyRollupMark.objects.filter(account=account).values_list("month", flat=True))
    assert len(months) == 2  # one mark per (account, month) a statement touched, nothing merged yet
    assert ChargeMonthMark.objects.filter(account=account).exists()
    assert _month_events(account) == 0  # not folded: the month rows are behind

    assert month_rollups_fold() >= 3  # both rollups' marked account-months
    assert _month_events(account) == 4
    assert not MonthlyRollupMark.objects.exists() and not ChargeMonthMark.objects.exists()
    assert ChargeMonthRollup.objects.filter(account=account).exists()
    assert month_rollups_fold() == 0  # nothing left to fold

    outcomes_settle(now=now + timedelta(days=30))  # updates move counts between statuses and states
    assert factories.rollups_match_rows()  # folds first, then compares the months with the days


@pytest.mark.django_db(transaction=True)
def test_a_mark_written_by_an_uncommitted_statement_survives_a_fold():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    now = timezone.now()
    factories.ingest(*(factories.event_payload(account, f"e{i}", occurred_at=now) for i in range(4)), now=now)
    written, folded = threading.Event(), threading.Event()

    def writer():
        with transaction.atomic():
            outcomes_settle(now=now + timedelta(days=30))  # pending → billable: events, charges, both rollups
            written.set()
            assert folded.wait(timeout=30)  # commit only after the fold has run

    thread, errors = in_thread(writer)
    assert written.wait(timeout=30)
    month_rollups_fold()  # folds the committed ingestion; the writer's mark is invisible to it
    folded.set()
    thread.join(timeout=60)
    if errors:
        raise errors[0]

    assert _statuses(account) == {"pending": 4}  # the fold did not see the writer's change ...
    assert MonthlyRollupMark.objects.filter(account=account).exists()  # ... and its marks survived
    assert ChargeMonthMark.objects.filter(account=account).exists()
    assert factories.rollups_match_rows()  # the next fold catches up
    assert _statuses(account) == {"billable": 4}
    connection.close()


@pytest.mark.django_db
def test_the_fold_is_a_scheduled_job_that_records_its_run():
    from django.core.management import call_command
    from django_q.models import Schedule

    from accounts.models import JobRun
    from billing.tasks import month_rollups_fold as job

    call_command("setup_schedules", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Schedule.objects.get(name="month_rollups_fold").func == "billing.tasks.month_rollups_fold"
    factories.make_outcome_type()
    account = factories.make_account("acme")
    factories.ingest(factories.event_payload(account, "e1"))
    assert job() == 2  # the event's month and its charge's month
    assert JobRun.objects.get(name="month_rollups_fold").result == {"folded": 2}
    assert _month_events(account) == 1
