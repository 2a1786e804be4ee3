"""Cost and gross margin on hand-computed cases (finance.margin: a pure core, no database)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from finance.margin import CostDay, Earned, catalogue_cost, gross_margin, margin_rows, spread

ACME = {"account": "acme", "tier": "enterprise", "industry": "saas", "use_case": "support", "currency": "USD"}
PARIS = {"account": "paris", "tier": "enterprise", "industry": "retail", "use_case": "support", "currency": "EUR"}
COSTS = {
    ("rc", ""): [(date(2026, 1, 1), D("0.03")), (date(2026, 3, 15), D("0.04"))],
    ("rc", "complex"): [(date(2026, 3, 1), D("0.45"))],
    ("lead", ""): [(date(2026, 1, 1), D("0.60"))],
}


@pytest.mark.parametrize(
    ("outcome_type", "tier", "day", "cost"),
    [
        ("rc", "", date(2026, 3, 14), D("0.03")),
        ("rc", "", date(2026, 3, 15), D("0.04")),  # in force from its date
        ("rc", "simple", date(2026, 3, 20), D("0.04")),  # no cost of its own: the type's for every tier
        ("rc", "complex", date(2026, 2, 28), D("0.03")),  # the tier's cost is not in force yet
        ("rc", "complex", date(2026, 3, 1), D("0.45")),
        ("lead", "complex", date(2026, 3, 1), D("0.60")),
        ("lead", "", date(2025, 12, 31), None),  # before any cost
        ("screening", "", date(2026, 3, 1), None),
    ],
)
def test_catalogue_cost(outcome_type, tier, day, cost):
    assert catalogue_cost(COSTS, outcome_type, tier, day) == cost


def test_gross_margin_and_the_fee_spread():
    assert gross_margin(D("100"), D("38")) == D("0.6200")
    assert gross_margin(D("3"), D("1")) == D("0.6667")
    assert gross_margin(D("10"), D("15")) == D("-0.5000")  # a loss
    assert gross_margin(D("0"), D("5")) is None
    assert spread(D("1500"), {"rc": 2, "lead": 1}) == {"lead": D("500.000000"), "rc": D("1000.000000")}
    assert spread(D("100"), {"a": 1, "b": 1, "c": 1}) == {"a": D("33.333333"), "b": D("33.333333"), "c": D("33.333334")}
    assert spread(D("100"), {}) == {"": D("100")}


def test_rows_with_and_without_reported_costs_against_the_floors():
    cost_days = [
        # 2 events reported 0.50 together; 10 reported none: 4 untiered, 6 complex, priced from the catalogue
        CostDay(ACME, "rc", date(2026, 3, 20), D("0.50"), {"": 4, "simple": 0, "moderate": 0, "complex": 6}),
        CostDay(ACME, "lead", date(2026, 3, 2), D("0"), {"": 5, "simple": 0, "moderate": 0, "complex": 0}),
        CostDay(PARIS, "rc", date(2026, 3, 2), D("1.00"), {"": 0, "simple": 0, "moderate": 0, "complex": 0}),
        CostDay(PARIS, "screening", date(2026, 3, 2), D("0"), {"": 3, "simple": 0, "moderate": 0, "complex": 0}),
    ]
    earned = [
        Earned(ACME, "rc", "2026-03", D("5.94")),
        Earned(ACME, "lead", "2026-03", D("20.00")),
        Earned(PARIS, "rc", "2026-03", D("2.00")),
    ]
    losses = [(ACME, "rc", "2026-03", 2)]
    floors = {"lead": D("0.8000")}
    by_type = margin_rows(
        cost_days=cost_days, earned=earned, losses=losses, costs=COSTS, floors=floors, default_floor=D("0.6000"),
        group_by=("outcome_type",),
    )  # fmt: skip
    assert [r.as_api() for r in by_type] == [
        {
            "segment": {"outcome_type": "lead"}, "period": "2026-03", "currency": "USD",
            "charged": "20.000000", "cost": "3.000000",  # 5 × 0.60
            "gross_margin": "0.8500", "margin_floor": "0.8000", "below_floor": False,
            "loss_outcomes": 0, "uncosted_outcomes": 0,
        },
        {
            "segment": {"outcome_type": "rc"}, "period": "2026-03", "currency": "EUR",
            "charged": "2.000000", "cost": "1.000000",
            "gross_margin": "0.5000", "margin_floor": "0.6000", "below_floor": True,
            "loss_outcomes": 0, "uncosted_outcomes": 0,
        },
        {
            "segment": {"outcome_type": "rc"}, "period": "2026-03", "currency": "USD",
            "charged": "5.940000", "cost": "3.360000",  # 0.50 reported + 4 × 0.04 + 6 × 0.45
            "gross_margin": "0.4343", "margin_floor": "0.6000", "below_floor": True,
            "loss_outcomes": 2, "uncosted_outcomes": 0,
        },
        {
            "segment": {"outcome_type": "screening"}, "period": "2026-03", "currency": "EUR",
            "charged": "0.000000", "cost": "0.000000",  # no cost anywhere: counted, at 0
            "gross_margin": None, "margin_floor": "0.6000", "below_floor": False,
            "loss_outcomes": 0, "uncosted_outcomes": 3,
        },
    ]  # fmt: skip
    by_account = margin_rows(
        cost_days=cost_days, earned=earned, losses=losses, costs=COSTS, floors=floors, default_floor=D("0.6000"),
        group_by=("account",),
    )  # fmt: skip
    (acme, paris) = by_account
    assert (acme.charged, acme.cost, acme.margin) == (D("25.94"), D("6.360000"), D("0.7548"))
    # The floor of a mix: charged-weighted, (5.94 × 0.60 + 20 × 0.80) / 25.94
    assert (acme.floor, acme.below_floor) == (D("0.7542"), False)
    assert (paris.currency, paris.uncosted_outcomes) == ("EUR", 3)
