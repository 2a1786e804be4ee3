"""Migrations metering 0018 and billing 0016 build the month rollups from the day rollups already
there; from metering 0019 and billing 0018 the triggers mark the months they touch and a fold keeps
them exact. Backwards, the month rollups are rebuilt and upserted by the triggers again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ingestion import outcomes_settle
from billing.ledger.models import ChargeMonthRollup
from metering.models import MonthlyRollup, MonthlyRollupMark
from tests import factories
from tests.metering.test_migration_delivery_cost import _events, _latest, _migrate


@pytest.mark.django_db(transaction=True)
def test_the_month_rollups_are_built_and_kept_exact():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    now = timezone.now()
    _migrate([("metering", "0017_event_amounts_not_negative"), ("billing", "0015_invoice_attainment")])
    try:
        factories.ingest(*_events(account, "before", now), now=now)  # the day rollups alone
        earlier = now - timedelta(days=40)
        factories.ingest(*_events(account, "older", earlier), now=earlier)  # another month
    finally:
        _migrate(_latest())
    assert len({r.month for r in MonthlyRollup.objects.filter(account=account)}) == 2  # built: two months
    assert factories.rollups_match_rows()
    factories.ingest(*_events(account, "after", now), now=now)  # the new triggers
    outcomes_settle(now=now)  # updates move counts between statuses and charge states
    assert factories.rollups_match_rows()
    assert sum(r.events for r in MonthlyRollup.objects.filter(account=account)) == 18
    assert ChargeMonthRollup.objects.filter(account=account).exists()


@pytest.mark.django_db(transaction=True)
def test_back_before_the_marks_the_month_rollups_are_rebuilt_with_what_was_only_marked():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    now = timezone.now()
    factories.ingest(*_events(account, "marked", now), now=now)  # marked, not folded
    assert MonthlyRollupMark.objects.exists()
    _migrate([("billing", "0017_plans"), ("metering", "0018_monthly_rollup")])
    try:
        assert sum(r.events for r in MonthlyRollup.objects.filter(account=account)) == 6  # rebuilt
        factories.ingest(*_events(account, "upserted", now), now=now)  # the old triggers upsert the months
        assert sum(r.events for r in MonthlyRollup.objects.filter(account=account)) == 12
    finally:
        _migrate(_latest())
    assert factories.rollups_match_rows()
