"""Migration metering 0016 rebuilds the daily rollup with the delivery cost of the events already stored,
and its triggers keep the cost columns exact from then on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from billing.ingestion import outcomes_settle
from metering.models import DailyRollup
from tests import factories


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    return list(MigrationExecutor(connection).loader.graph.leaf_nodes())


def _events(account, prefix: str, now) -> list[dict]:
    at = now - timedelta(days=4)
    return [
        factories.event_payload(account, f"{prefix}-1", occurred_at=at, cost_amount="0.030000"),
        factories.event_payload(account, f"{prefix}-2", occurred_at=at, cost_amount="0.450000", complexity="complex"),
        factories.event_payload(account, f"{prefix}-3", occurred_at=at, complexity="complex"),
        factories.event_payload(
            account, f"{prefix}-4", occurred_at=at, complexity="simple", failure_reason="abandoned"
        ),
        factories.event_payload(account, f"{prefix}-5", occurred_at=at),
        factories.event_payload(account, f"{prefix}-6", occurred_at=at, complexity="moderate", sandbox=True),
    ]


@pytest.mark.django_db(transaction=True)
def test_the_rollup_is_rebuilt_with_the_costs_and_kept_exact():
    factories.make_outcome_type()
    account = factories.make_account("acme")
    now = timezone.now()
    _migrate([("metering", "0015_outcome_costs")])
    try:
        factories.ingest(*_events(account, "before", now), now=now)  # the old triggers: counts only
    finally:
        _migrate(_latest())
    assert factories.rollups_match_rows()
    factories.ingest(*_events(account, "after", now), now=now)  # the new triggers
    outcomes_settle(now=now)  # updates move the costs with their events' status
    assert factories.rollups_match_rows()
    rows = DailyRollup.objects.filter(account=account)
    totals = {
        field: sum(getattr(r, field) for r in rows)
        for field in ("events", "reported_cost", "uncosted", "uncosted_simple", "uncosted_moderate", "uncosted_complex")
    }
    assert totals == {
        "events": 12,
        "reported_cost": D("0.960000"),  # (0.03 + 0.45) × 2
        "uncosted": 2,
        "uncosted_simple": 2,
        "uncosted_moderate": 2,
        "uncosted_complex": 2,
    }
