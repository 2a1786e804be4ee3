"""Margin's delivery cost read by month where the catalogue's cost is the same all month, and day by
day in a month where a new cost takes effect after its first day (finance.selectors.cost_days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from finance.selectors import margin_report
from metering.services import outcome_cost_create
from tests import factories

pytestmark = pytest.mark.django_db


def _post(account, prefix: str, n: int, at: datetime) -> None:
    factories.ingest(
        *(factories.event_payload(account, f"{prefix}-{i}", occurred_at=at, failure_reason="abandoned")
          for i in range(n)),
        now=at + timedelta(hours=1),
    )  # fmt: skip


def test_a_cost_that_changes_mid_month_costs_each_day_at_its_price():
    rc = factories.make_outcome_type()
    account = factories.make_account("acme", timezone_name="UTC")
    outcome_cost_create(outcome_type=rc, complexity="", amount=D("0.10"), effective_from=date(2026, 1, 1))
    outcome_cost_create(outcome_type=rc, complexity="", amount=D("0.20"), effective_from=date(2026, 3, 15))
    _post(account, "feb", 4, datetime(2026, 2, 10, 12, tzinfo=UTC))  # a whole month at 0.10
    _post(account, "early", 2, datetime(2026, 3, 10, 12, tzinfo=UTC))  # 0.10
    _post(account, "late", 3, datetime(2026, 3, 20, 12, tzinfo=UTC))  # 0.20
    _post(account, "apr", 1, datetime(2026, 4, 5, 12, tzinfo=UTC))  # a whole month at 0.20
    rows = margin_report(period="2026-04", months=3, group_by=("account",)).rows
    assert [(r.period, r.cost) for r in rows] == [
        ("2026-02", D("0.40")),
        ("2026-03", D("0.80")),  # 2 × 0.10 + 3 × 0.20
        ("2026-04", D("0.20")),
    ]
