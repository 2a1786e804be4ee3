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

RES, LEAD = "resolved_conversation", "qualified_lead"
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


def test_an_allowance_shared_by_two_types_goes_in_contract_order_as_the_invoice_gives_it(acme):
    factories.make_outcome_type(LEAD, unit_price="4.00")
    contract(
        acme,
        prices=[{"outcome_type": LEAD, "model": "unit", "price": "3.00"},
                {"outcome_type": RES, "model": "unit", "price": "0.75"}],
        platform_fee={"name": "Platform fee", "amount": "100.00", "included_outcomes": 3},
    )  # fmt: skip
    post(acme, 2, at=JUNE_3, prefix="res")  # inside the allowance as the month stands: 0
    post(acme, 2, at=JUNE_3 + timedelta(hours=1), prefix="lead", outcome_type=LEAD)
    # The leads come first in the contract: the allowance is theirs first, whatever arrived earlier.
    leads = Charge.objects.filter(account=acme, event__event_id__contains=LEAD).values_list("amount", "reason")
    assert sorted(leads) == [(D(0), "included"), (D(0), "included")]
    invoice = settle_and_finalize(acme)
    assert invoice.total == D("100.00") + D("0.75")  # one resolution beyond the three included


def test_past_the_allowance_each_outcome_costs_its_price_and_the_period_is_not_priced(acme):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    contract(
        acme,
        prices=[{"outcome_type": RES, "model": "unit", "price": "0.75"}],
        platform_fee={"name": "Platform fee", "amount": "100.00", "included_outcomes": 2},
    )
    post(acme, 3, at=JUNE_3, prefix="a")
    with CaptureQueriesContext(connection) as queries:
        post(acme, 2, at=JUNE_3 + timedelta(hours=1), prefix="b")

    assert amounts(acme) == [D(0), D(0), D("0.75"), D("0.75"), D("0.75")]
    # Rated from the rollup alone: no previous invoice or prepaid credits read to price the month.
    assert not any("billing_creditledgerentry" in q["sql"] for q in queries.captured_queries)
