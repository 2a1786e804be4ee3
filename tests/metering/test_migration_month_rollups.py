"""Migrations metering 0018 and billing 0016 build the month rollups from the day rollups already
there, and the triggers keep them exact from then on (in the statement that keeps the day rows)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.ingestion import outcomes_settle
from billing.ledger.models import ChargeMonthRollup
from metering.models import MonthlyRollup
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
