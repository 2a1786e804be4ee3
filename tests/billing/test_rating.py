"""Each event's charge amount at ingestion is what it adds to its period's invoice as the period stands:
a platform fee's included outcomes at 0, a graduated band's price by rank, the volume price reached
(billing.rating). The final invoice records the exact amount on its line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from billing.ledger.models import Charge
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize

RES = "resolved_conversation"
JUNE_3 = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def amounts(account) -> list[D | None]:
    """Each event's charge amount, in occurrence order."""
    return list(
        Charge.objects.filter(account=account).order_by("occurred_at", "event_id").values_list("amount", flat=True)
    )


def test_included_outcomes_cost_nothing_then_the_price_applies_across_batches(acme):
    contract(
        acme,
        prices=[{"outcome_type": RES, "model": "unit", "price": "0.75"}],
        platform_fee={"name": "Platform fee", "amount": "1500.00", "included_outcomes": 3},
    )
    post(acme, 2, at=JUNE_3, prefix="first")
    post(acme, 3, at=JUNE_3 + timedelta(hours=1), prefix="second")

    assert amounts(acme) == [D(0), D(0), D(0), D("0.75"), D("0.75")]


def test_graduated_bands_price_each_outcome_by_its_rank_and_the_invoice_agrees(acme):
    contract(
        acme,
        prices=[
            {"outcome_type": RES, "model": "graduated",
             "bands": [{"up_to": 2, "price": "1.00"}, {"up_to": None, "price": "0.40"}]},
        ],
    )  # fmt: skip
    post(acme, 3, at=JUNE_3, prefix="a")
    post(acme, 1, at=JUNE_3 + timedelta(hours=2), prefix="b")

    assert amounts(acme) == [D("1.00"), D("1.00"), D("0.40"), D("0.40")]
    invoice = settle_and_finalize(acme)
    # Finalizing records the exact amounts, which are the estimates here (occurrence order = arrival).
    assert amounts(acme) == [D("1.00"), D("1.00"), D("0.40"), D("0.40")]
    assert invoice.total == sum(amounts(acme))


def test_volume_pricing_gives_each_outcome_the_price_of_the_volume_reached(acme):
    contract(
        acme,
        prices=[
            {"outcome_type": RES, "model": "volume",
             "bands": [{"up_to": 2, "price": "1.00"}, {"up_to": None, "price": "0.50"}]},
        ],
    )  # fmt: skip
    post(acme, 2, at=JUNE_3, prefix="a")
    post(acme, 2, at=JUNE_3 + timedelta(hours=2), prefix="b")

    # As the period stood when each batch came: 2 outcomes at 1.00, then 4 at 0.50.
    assert amounts(acme) == [D("1.00"), D("1.00"), D("0.50"), D("0.50")]
    settle_and_finalize(acme)
    assert amounts(acme) == [D("0.50")] * 4  # the invoice reprices the whole volume


def test_without_a_position_rule_the_unit_price_stands_and_no_rollup_is_read(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    contract(acme, prices=[{"outcome_type": RES, "model": "unit", "price": "0.60"}])
    with CaptureQueriesContext(connection) as queries:
        post(acme, 3, at=JUNE_3)

    assert amounts(acme) == [D("0.60")] * 3
    # Neither rollup (the ledger's, which ranks, nor metering's) is read.
    assert not any(
        "billing_chargerollup" in q["sql"] or "metering_dailyrollup" in q["sql"] for q in queries.captured_queries
    )


def test_the_included_allowance_counts_pending_outcomes_and_spares_failed_attempts(acme):
    contract(
        acme,
        prices=[{"outcome_type": RES, "model": "unit", "price": "0.75"}],
        platform_fee={"name": "Platform fee", "amount": "100.00", "included_outcomes": 2},
    )
    post(acme, 1, at=JUNE_3, prefix="failed", success_criteria_met=False)
    post(acme, 3, at=JUNE_3 + timedelta(minutes=30), prefix="ok")

    # The failed attempt costs nothing under this contract (no charge) and takes no included place.
    assert amounts(acme) == [D(0), D(0), D("0.75")]
