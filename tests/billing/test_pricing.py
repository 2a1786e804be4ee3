"""The scenario table: every commercial structure priced by hand, to the cent (pure, no database)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.charges import own_spend
from billing.contracts import TermsInvalid, terms_json, terms_parse
from billing.pricing import Carry, CreditNoteIn, Group, LateBatch, PeriodInput, marginal_bound, price_period
from billing.spend.services import ROUNDING_MARGIN_LINES
from outcomeportal.core.money import money_display, round_line

RES, LEAD = "resolved_conversation", "qualified_lead"


def terms(**doc):
    doc.setdefault("effective_from", "2026-01-01")
    return terms_parse(doc)


def price(t, *groups, period="2026-06", currency="USD", **kw):
    return price_period(PeriodInput(period, currency, t, tuple(groups), **kw))


def lines(priced):
    return [(ln.kind, ln.quantity, ln.unit_price, ln.amount) for ln in priced.lines]


def unit(code=RES, p="0.99"):
    return {"outcome_type": code, "model": "unit", "price": p}


def test_pure_outcome_48_resolutions_at_099():
    priced = price(terms(prices=[unit()]), Group(RES, "", 48, 7))
    assert lines(priced) == [("outcome", D(48), D("0.99"), D("47.52"))]
    assert priced.total == D("47.52")


def test_no_contract_uses_the_catalogue_price():
    priced = price(None, Group(RES, "", 10), default_prices=((RES, D("0.75")),))
    assert priced.total == D("7.50")


def test_platform_fee_1500_includes_1000_then_237_at_075():
    t = terms(prices=[unit(p="0.75")], platform_fee={"amount": "1500.00", "included_outcomes": 1000})
    priced = price(t, Group(RES, "", 1237))
    assert lines(priced) == [
        ("platform_fee", D(1), D("1500.00"), D("1500.00")),
        ("included", D(1000), D(0), D(0)),
        ("outcome", D(237), D("0.75"), D("177.75")),
    ]
    assert priced.total == D("1677.75")
    included, overage = priced.lines[1].alloc, priced.lines[2].alloc
    assert (included.rank_from, included.rank_to, overage.rank_from, overage.rank_to) == (1, 1000, 1001, 1237)


def test_complexity_tiers_050_150_300():
    t = terms(prices=[{"outcome_type": RES, "model": "complexity", "tiers": {"simple": "0.50", "moderate": "1.50",
                                                                                "complex": "3.00"}}])  # fmt: skip
    # Two events reported no complexity: the contract's default tier (simple) prices them.
    priced = price(t, Group(RES, "simple", 10), Group(RES, "", 2), Group(RES, "moderate", 4), Group(RES, "complex", 3))
    assert lines(priced) == [
        ("outcome", D(12), D("0.50"), D("6.00")),
        ("outcome", D(4), D("1.50"), D("6.00")),
        ("outcome", D(3), D("3.00"), D("9.00")),
    ]
    assert priced.total == D("21.00")


def test_graduated_tiers_on_monthly_quantity():
    bands = [{"up_to": 1000, "price": "1.00"}, {"up_to": 5000, "price": "0.80"}, {"up_to": None, "price": "0.60"}]
    priced = price(terms(prices=[{"outcome_type": RES, "model": "graduated", "bands": bands}]), Group(RES, "", 6200))
    assert lines(priced) == [
        ("outcome", D(1000), D("1.00"), D("1000.00")),
        ("outcome", D(4000), D("0.80"), D("3200.00")),
        ("outcome", D(1200), D("0.60"), D("720.00")),
    ]
    assert priced.total == D("4920.00")
    assert [(ln.alloc.rank_from, ln.alloc.rank_to) for ln in priced.lines] == [(1, 1000), (1001, 5000), (5001, 6200)]


@pytest.mark.parametrize(("qty", "total"), [(6200, D("3720.00")), (4000, D("3200.00")), (1000, D("1000.00"))])
def test_volume_tiers_price_the_whole_month_at_one_band(qty, total):
    bands = [{"up_to": 1000, "price": "1.00"}, {"up_to": 5000, "price": "0.80"}, {"up_to": None, "price": "0.60"}]
    priced = price(terms(prices=[{"outcome_type": RES, "model": "volume", "bands": bands}]), Group(RES, "", qty))
    assert priced.total == total


CREDITS = {
    "unit": "credits",
    "credit_price": "0.02",
    "prices": [unit(RES, "50"), unit(LEAD, "100")],
    "platform_fee": {"name": "Growth plan", "amount": "20.00", "included_credits": "1000", "rollover": True},
}


def test_credits_50_per_resolution_100_per_lead_from_a_1000_credit_bundle_with_rollover():
    t = terms(**CREDITS)
    june = price(t, Group(RES, "", 12), Group(LEAD, "", 3))  # 600 + 300 = 900 credits
    assert june.total == D("20.00")
    assert [ln.credits for ln in june.lines if ln.credits] == [D(600), D(300)]
    assert june.carry_out.credits == D(100)  # rolls over
    july = price(t, Group(RES, "", 16), Group(LEAD, "", 4), period="2026-07", carry_in=june.carry_out)
    # 800 + 400 = 1,200 used; 1,000 + 100 rolled over available; 100 × $0.02 overage.
    assert lines(july)[-1] == ("credit_overage", D(100), D("0.02"), D("2.00"))
    assert july.total == D("22.00")
    assert july.carry_out.credits == 0


def test_credits_expire_without_rollover():
    doc = {**CREDITS, "platform_fee": {**CREDITS["platform_fee"], "rollover": False}}
    t = terms(**doc)
    june = price(t, Group(RES, "", 12))
    assert june.carry_out.credits == 0
    july = price(t, Group(RES, "", 24), period="2026-07", carry_in=june.carry_out)  # 1,200 credits
    assert july.total == D("24.00")  # 20.00 + 200 × 0.02


def test_gain_share_15_percent_of_value_above_baseline():
    t = terms(prices=[{"outcome_type": RES, "model": "gain_share", "percent": "15", "baseline": "100.00"}])
    # Values 250, 80 and 400.50 → shares 22.5 + 0 + 45.075 (each event's, summed in SQL) = 67.575.
    priced = price(t, Group(RES, "", 3, 0, D("67.575")))
    assert priced.total == D("67.58")  # 67.575, rounded once, half away from zero


COMMIT = {"prices": [unit(p="1.00")], "commitment": {"amount": "50000.00", "start": "2026-01", "months": 12}}


def test_commitment_50000_with_true_up_at_the_end_of_the_term():
    t = terms(**COMMIT)
    december = price(t, Group(RES, "", 2000), period="2026-12", carry_in=Carry(committed_spend=D("45000")))
    assert lines(december) == [("outcome", D(2000), D("1.00"), D("2000.00")), ("true_up", D(1), D("3000.00"),
                                                                               D("3000.00"))]  # fmt: skip
    assert december.total == D("5000.00")
    november = price(t, Group(RES, "", 2000), period="2026-11", carry_in=Carry(committed_spend=D("43000")))
    assert november.total == D("2000.00")
    assert november.carry_out.committed_spend == D("45000")


def test_commitment_above_the_amount_needs_no_true_up():
    december = price(terms(**COMMIT), Group(RES, "", 9000), period="2026-12",
                     carry_in=Carry(committed_spend=D("45000")))  # fmt: skip
    assert december.total == D("9000.00")


def test_prepaid_commitment_drawn_down_then_overage():
    t = terms(**{**COMMIT, "commitment": {**COMMIT["commitment"], "prepaid": True}})
    january = price(t, Group(RES, "", 5000), period="2026-01")
    assert lines(january) == [
        ("commitment_prepaid", D(1), D("50000.00"), D("50000.00")),
        ("outcome", D(5000), D("1.00"), D("5000.00")),
        ("commitment_drawdown", D(1), D("-5000.00"), D("-5000.00")),
    ]
    later = price(t, Group(RES, "", 3000), period="2026-09", carry_in=Carry(committed_spend=D("48000")))
    assert later.total == D("1000.00")  # 2,000 left to draw, 1,000 overage


def test_price_lock_caps_outcomes_at_the_previous_plan_for_90_days():
    t = terms(effective_from="2026-06-01", prices=[unit()],
              price_lock={"days": 90, "previous_plan_cost": "2000.00"})  # fmt: skip
    june = price(t, Group(RES, "", 3000))  # 2,970.00
    assert lines(june)[-1] == ("price_lock", D(1), D("-970.00"), D("-970.00"))
    assert june.total == D("2000.00")
    july = price(t, Group(RES, "", 1000), period="2026-07")  # 990.00: under the cap, no discount
    assert july.total == D("990.00")
    september = price(t, Group(RES, "", 3000), period="2026-09")  # lock ended 2026-08-30
    assert september.total == D("2970.00")


def test_helpdesk_ticket_fee_on_every_ticket_plus_automation_fee_when_resolved():
    t = terms(prices=[{"outcome_type": RES, "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"}])
    priced = price(t, Group(RES, "", 150, 50))
    assert lines(priced) == [("outcome", D(200), D("0.30"), D("60.00")), ("outcome", D(150), D("0.90"), D("135.00"))]
    assert priced.total == D("195.00")
    ticket, automation = (ln.alloc for ln in priced.lines)
    assert (ticket.classes, ticket.event_amount, automation.classes, automation.event_amount) == (
        "A", D("0.30"), "R", D("1.20"))  # fmt: skip


@pytest.mark.parametrize(("basis", "p", "total"), [("per_conversation", "0.40", D("20.00")),
                                                   ("per_resolution", "0.99", D("29.70"))])  # fmt: skip
def test_dual_choice_per_conversation_or_per_resolution(basis, p, total):
    priced = price(terms(basis=basis, prices=[unit(p=p)]), Group(RES, "", 30, 20))
    assert priced.total == total


def test_implementation_fee_is_billed_once_in_the_onboarding_month():
    t = terms(effective_from="2026-06-01", prices=[unit()], onboarding={"implementation_fee": "2500.00"})
    assert price(t, Group(RES, "", 48)).total == D("2547.52")
    assert price(t, Group(RES, "", 48), period="2026-07").total == D("47.52")


def test_monthly_minimum_tops_up():
    priced = price(terms(prices=[unit()], monthly_minimum="100.00"), Group(RES, "", 48))
    assert lines(priced)[-1] == ("minimum", D(1), D("52.48"), D("52.48"))
    assert priced.total == D("100.00")


def test_late_outcomes_cost_what_they_would_have_cost_in_their_own_period():
    t = terms(prices=[unit(p="0.75")], platform_fee={"amount": "1500.00", "included_outcomes": 1000})
    late = LateBatch("2026-05", t, Carry(), billed=(Group(RES, "", 999),), late=(Group(RES, "", 3),))
    priced = price(t, Group(RES, "", 10), late=(late,))
    # One of the three still fit May's 1,000 included; two are overage at 0.75.
    assert lines(priced)[-1] == ("late", D(3), D("0.500000"), D("1.50"))
    assert priced.lines[-1].alloc.segment == "2026-05"
    assert priced.total == D("1500.00") + D("1.50")


def test_credit_notes_are_applied_as_credit_lines_and_never_below_zero():
    notes = (CreditNoteIn(1, "CN-000001", D("10.00")), CreditNoteIn(2, "CN-000002", D("50.00")))
    priced = price(terms(prices=[unit()]), Group(RES, "", 48), credit_notes=notes)
    assert [ln.amount for ln in priced.lines if ln.kind == "credit_note"] == [D("-10.00"), D("-37.52")]
    assert (priced.subtotal, priced.credits_applied, priced.total) == (D("47.52"), D("47.52"), D(0))


@pytest.mark.parametrize(("currency", "expected"), [("USD", D("298.50")), ("JPY", D(299)), ("KWD", D("298.500"))])
def test_currency_minor_units(currency, expected):
    priced = price(terms(prices=[unit(p="99.5")]), Group(RES, "", 3), currency=currency)
    assert priced.total == expected
    assert priced.total.as_tuple().exponent == -{"USD": 2, "JPY": 0, "KWD": 3}[currency]


def test_one_rounding_per_line_not_per_event():
    # 3 × 0.333 = 0.999 → 1.00 once; rounding each event first would give 0.99.
    assert price(terms(prices=[unit(p="0.333")]), Group(RES, "", 3)).total == D("1.00")
    assert round_line(D("0.005"), "USD") == D("0.01") and round_line(D("-0.005"), "USD") == D("-0.01")
    assert money_display(D("1500"), "USD") == "$1,500.00" and money_display(D("1500"), "JPY") == "¥1,500"


def test_money_never_passes_through_float():
    with pytest.raises(TypeError):
        round_line(0.1, "USD")


def test_terms_validation_names_fields():
    with pytest.raises(TermsInvalid) as exc:
        terms_parse({"unit": "credits", "prices": [{"outcome_type": RES, "model": "unit", "price": 0.99}]})
    assert set(exc.value.fields) == {"effective_from", "credit_price", "prices.0.price"}


def test_terms_round_trip():
    t = terms(**CREDITS, onboarding={"training_days": 30, "pilot_free_outcomes": 100})
    assert terms_parse(terms_json(t)) == t


# --- Properties -----------------------------------------------------------------------------

TIERS = st.sampled_from(["", "simple", "moderate", "complex"])
GROUPS = st.lists(
    st.builds(
        Group,
        st.sampled_from([RES, LEAD]),
        TIERS,
        st.integers(0, 3000),
        st.integers(0, 500),
        st.decimals(0, 10000, places=2),
    ),
    max_size=8,
    unique_by=lambda g: (g.outcome_type, g.tier),
)
CONTRACTS = st.sampled_from(
    [
        terms(prices=[unit(p="0.99")]),
        terms(
            prices=[unit(p="0.75")],
            platform_fee={"amount": "1500.00", "included_outcomes": 1000},
            price_lock={"days": 90, "previous_plan_cost": "900.00"},
        ),
        terms(**CREDITS),
        terms(
            basis="per_conversation",
            prices=[
                {
                    "outcome_type": RES,
                    "model": "complexity",
                    "tiers": {"simple": "0.333", "moderate": "1.505", "complex": "3.00"},
                },
                {
                    "outcome_type": LEAD,
                    "model": "graduated",
                    "bands": [{"up_to": 100, "price": "2.125"}, {"up_to": None, "price": "1.0049"}],
                },
            ],
            monthly_minimum="50.00",
        ),
        terms(
            prices=[
                {"outcome_type": RES, "model": "helpdesk", "item_fee": "0.305", "automation_fee": "0.9"},
                {"outcome_type": LEAD, "model": "gain_share", "percent": "12.5", "baseline": "10"},
            ],
            **{k: v for k, v in COMMIT.items() if k != "prices"},
        ),
    ]
)


@settings(max_examples=150, deadline=None)
@given(CONTRACTS, GROUPS, st.randoms(), st.decimals(0, 500, places=2))
def test_property_total_is_the_sum_of_lines_and_order_does_not_matter(t, groups, rnd, credit):
    notes = (CreditNoteIn(1, "CN-1", credit),) if credit else ()
    priced = price(t, *groups, default_prices=((RES, D("0.99")), (LEAD, D("5"))), credit_notes=notes)
    assert sum((ln.amount for ln in priced.lines), D(0)) == priced.total
    assert priced.subtotal - priced.credits_applied == priced.total
    assert all(ln.amount == round_line(ln.amount, "USD") for ln in priced.lines)
    shuffled = list(groups)
    rnd.shuffle(shuffled)
    again = price(t, *shuffled, default_prices=((RES, D("0.99")), (LEAD, D("5"))), credit_notes=notes)
    assert again == priced


BOUND_TERMS = [
    None,
    {"prices": [unit(p="0.99")]},
    {"prices": [unit(p="0.335")]},  # sub-cent: a line's rounding can add half a cent
    {"prices": [unit(p="0.75")], "platform_fee": {"amount": "100.00", "included_outcomes": 3}},
    {"prices": [{"outcome_type": RES, "model": "complexity", "tiers": {"simple": "0.5", "moderate": "1.5",
                                                                          "complex": "3"}}]},
    {"prices": [{"outcome_type": RES, "model": "graduated", "bands": [{"up_to": 2, "price": "1.00"},
                                                                        {"up_to": None, "price": "0.40"}]}]},
    {"prices": [{"outcome_type": RES, "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"}]},
    {"basis": "per_conversation", "prices": [unit(p="0.40")]},
    {"prices": [unit(p="1.00")], "price_lock": {"starts": "2026-05-01", "previous_plan_cost": "4.00"}},
    {"prices": [unit(p="1.00")], "monthly_minimum": "5.00"},
    {"prices": [unit(p="1.00")], "commitment": {"amount": "6.00", "start": "2026-06", "months": 2, "prepaid": True}},
    {"unit": "credits", "credit_price": "0.02", "prices": [unit(p="50")],
     "platform_fee": {"amount": "20.00", "included_credits": "200"}},
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(
    doc=st.sampled_from(BOUND_TERMS),
    resolved=st.integers(0, 12),
    unresolved=st.integers(0, 6),
    added=st.lists(st.tuples(st.sampled_from(["", "simple", "moderate", "complex"]), st.booleans()), max_size=6),
)
def test_marginal_bounds_bound_what_a_batch_adds(doc, resolved, unresolved, added):
    """The cap admits far from the cap on these bounds: their sum, with the rounding margin, is
    never below what the batch adds to the period's own charges."""
    t = terms(**doc) if doc is not None else None
    defaults = ((RES, D("0.99")),)
    groups = {"": [resolved, unresolved]}

    def total():
        return own_spend(price(t, *(Group(RES, k, r, u) for k, (r, u) in groups.items()), default_prices=defaults))

    before, bounds = total(), D(0)
    for tier, attempt in added:
        groups.setdefault(tier, [0, 0])[1 if attempt else 0] += 1
        bound = marginal_bound(t, RES, tier=tier, attempt=attempt, amount=None, default_price=D("0.99"))
        assert bound is not None
        bounds += bound
    margin = D("0.01") * ROUNDING_MARGIN_LINES
    assert total() - before <= bounds + margin
    assert total() - before <= bounds + D("0.01") * 4  # in fact a few lines' rounding at most


@pytest.mark.parametrize("value", ["-5.00", "five", 5])
def test_a_bad_monthly_minimum_is_refused_not_dropped(value):
    """It used to be read after the errors were checked: a bad minimum vanished from the terms."""
    with pytest.raises(TermsInvalid) as refused:
        terms(prices=[unit()], monthly_minimum=value)
    assert "monthly_minimum" in refused.value.fields
