"""Outcome guarantees: the shortfall credit on hand-computed cases (pure), the contract term's
validation, and an invoice finalized below the guarantee (PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.test import Client

from accounts.models import Role
from billing.contracts import TermsInvalid, terms_json, terms_parse
from billing.ingestion import outcomes_settle
from billing.pricing import Attainment, Group, LateBatch, PeriodInput, price_period
from billing.services import invoice_draft_refresh, invoice_finalize
from finance.selectors import attainment_report
from tests import factories
from tests.billing.helpers import contract, post

RES, LEAD = "resolved_conversation", "qualified_lead"
NAMES = ((RES, "Resolved conversation"), (LEAD, "Qualified lead"))


def unit(code=RES, p="0.99"):
    return {"outcome_type": code, "model": "unit", "price": p}


def guaranteed(least="0.85", percent="5", **doc):
    doc.setdefault("effective_from", "2026-01-01")
    doc.setdefault("prices", [unit()])
    return terms_parse({**doc, "guarantee": {"outcome_type": RES, "min_attainment": least,
                                            "credit_percent_per_point": percent}})  # fmt: skip


def price(t, *groups, attainment=None, **kw):
    return price_period(PeriodInput("2026-06", "USD", t, tuple(groups), type_names=NAMES, attainment=attainment, **kw))


def credit_of(priced):
    found = [ln for ln in priced.lines if ln.kind == "guarantee_credit"]
    return found[0].amount if found else None


# --- The rule on hand-computed cases ------------------------------------------------------------
# 410 resolutions at $0.99 = $405.90 of charges.


@pytest.mark.parametrize(
    ("billable", "attempted", "credit"),
    [
        # 410 / 500 = 0.82: 3 points below 85 % × 5 % = 15 % of $405.90 = $60.885 → $60.89 (half up)
        (410, 500, D("-60.89")),
        (425, 500, None),  # 0.85: at the guarantee, no credit
        (450, 500, None),  # 0.90: above
        # 410 / 411 = 0.99757… → 0.9976: above (only attempted outcomes count, the 4-decimal rate decides)
        (410, 411, None),
        # 410 / 483 = 0.848861… → 0.8489: 0.11 points below: 405.90 × 5 % × 0.11 = $2.232450 → $2.23
        (410, 483, D("-2.23")),
    ],
)
def test_the_credit_below_at_and_above_the_guarantee(billable, attempted, credit):
    priced = price(guaranteed(), Group(RES, "", 410), attainment=(Attainment(RES, billable, attempted),))
    assert credit_of(priced) == credit
    assert priced.total == D("405.90") + (credit or 0)


def test_the_credit_line_says_the_rule_in_plain_words():
    priced = price(guaranteed(), Group(RES, "", 410), attainment=(Attainment(RES, 410, 500),))
    line = priced.lines[-1]
    assert (line.kind, line.quantity, line.unit_price, line.amount, line.outcome_type) == (
        "guarantee_credit", D(1), D("-60.89"), D("-60.89"), RES)  # fmt: skip
    assert line.alloc is None  # it bills no event
    assert line.description == (
        "Guarantee shortfall — Resolved conversation: 82 % attainment (410 of 500 attempted were billable), "
        "3 points below the guaranteed 85 %: credit of 5 % of $405.90 per point"
    )


def test_the_credit_is_at_most_the_charges_themselves():
    # 40 % per point × 3 points = 120 % of the charges: the whole $405.90, no more.
    priced = price(guaranteed(percent="40"), Group(RES, "", 410), attainment=(Attainment(RES, 410, 500),))
    assert credit_of(priced) == D("-405.90")
    assert priced.total == D("0.00")
    assert priced.lines[-1].description.endswith("per point, at most the charges themselves")


def test_rounded_once_from_the_4_decimal_rate():
    # 7 / 13 = 0.538461… → 0.5385: 6.15 points below 60 %; 7 × 0.99 = 6.93 × 10 % × 6.15 = 4.26195 → $4.26
    # (rounding the rate to 0.54 first would give 6 points and $4.16; rounding per point, 6.15 × $0.69)
    priced = price(guaranteed(least="0.6", percent="10"), Group(RES, "", 7), attainment=(Attainment(RES, 7, 13),))
    assert credit_of(priced) == D("-4.26")
    assert "53.85 % attainment (7 of 13 attempted were billable), 6.15 points below the guaranteed 60 %" in (
        priced.lines[-1].description
    )


@pytest.mark.parametrize("attainment", [(), (Attainment(RES, 0, 0),), (Attainment(LEAD, 1, 10),)])
def test_no_attempted_outcome_no_credit(attainment):
    priced = price(guaranteed(), Group(RES, "", 3), attainment=attainment)
    assert credit_of(priced) is None and priced.total == D("2.97")
    assert priced.notes == (
        "Outcome guarantee — Resolved conversation: no outcome attempted in 2026-06, nothing to check.",
    )


def test_a_draft_is_not_checked_and_says_when_it_will_be():
    priced = price(guaranteed(), Group(RES, "", 410))  # attainment None: the period is under way
    assert credit_of(priced) is None and priced.total == D("405.90")
    assert priced.notes == (
        "Outcome guarantee — Resolved conversation: at least 85 % attainment, checked when the period closes; "
        "a shortfall is credited on the final invoice.",
    )


def test_met_says_so():
    priced = price(guaranteed(), Group(RES, "", 450), attainment=(Attainment(RES, 450, 500),))
    assert priced.notes == (
        "Outcome guarantee met — Resolved conversation: 90 % attainment (450 of 500 attempted were billable); "
        "85 % guaranteed.",
    )


def test_only_that_types_outcome_charges_count_not_the_fee_nor_included_outcomes():
    # $1,500 including 1,000 outcomes, then $0.75: 1,237 → $177.75 of outcome charges for the type; leads
    # ($4 × 10) are another type. 80 % attained: 5 points × 2 % = 10 % of $177.75 = $17.775 → $17.78.
    t = guaranteed(percent="2", prices=[unit(p="0.75"), unit(LEAD, "4.00")],
                   platform_fee={"amount": "1500.00", "included_outcomes": 1000, "included_types": [RES]})  # fmt: skip
    priced = price(t, Group(LEAD, "", 10), Group(RES, "", 1237), attainment=(Attainment(RES, 80, 100),))
    assert [(ln.kind, ln.amount) for ln in priced.lines] == [
        ("platform_fee", D("1500.00")),
        ("included", D("0")),
        ("outcome", D("177.75")),
        ("outcome", D("40.00")),
        ("guarantee_credit", D("-17.78")),
    ]
    assert priced.total == D("1699.97")


def test_the_minimum_and_the_price_lock_see_the_charges_after_the_credit():
    # $405.90 − $60.89 = $345.01 of outcome charges: a $400 minimum tops up $54.99.
    priced = price(guaranteed(monthly_minimum="400.00"), Group(RES, "", 410), attainment=(Attainment(RES, 410, 500),))
    assert [(ln.kind, ln.amount) for ln in priced.lines] == [
        ("outcome", D("405.90")), ("guarantee_credit", D("-60.89")), ("minimum", D("54.99"))]  # fmt: skip
    # A lock at $300: the lock takes $345.01 − $300 = $45.01 off; the invoice is $300, never below zero.
    locked = guaranteed(price_lock={"starts": "2026-06-01", "previous_plan_cost": "300.00"})
    priced = price(locked, Group(RES, "", 410), attainment=(Attainment(RES, 410, 500),))
    assert [(ln.kind, ln.amount) for ln in priced.lines] == [
        ("outcome", D("405.90")), ("guarantee_credit", D("-60.89")), ("price_lock", D("-45.01"))]  # fmt: skip


def test_late_outcomes_of_a_closed_month_are_priced_without_its_credit():
    # May closed below its guarantee (its credit was final with its invoice): 2 late outcomes cost $1.98.
    t = guaranteed()
    late = LateBatch("2026-05", t, carry_in=PeriodInput("2026-05", "USD", t, ()).carry_in,
                     billed=(Group(RES, "", 410),), late=(Group(RES, "", 2),))  # fmt: skip
    priced = price(t, late=(late,), attainment=())
    assert [(ln.kind, ln.amount) for ln in priced.lines] == [("late", D("1.98"))]


# --- The contract term -------------------------------------------------------------------------


def test_the_term_round_trips_through_the_document():
    t = guaranteed(least="0.855", percent="2.5")
    assert terms_json(t)["guarantee"] == {
        "outcome_type": RES, "min_attainment": "0.855", "credit_percent_per_point": "2.5"}  # fmt: skip
    assert terms_parse({**terms_json(t), "credit_price": None, "platform_fee": None, "commitment": None,
                        "onboarding": None, "price_lock": None, "monthly_minimum": None}) == t  # fmt: skip
    assert terms_json(terms_parse({"effective_from": "2026-01-01"}))["guarantee"] is None


@pytest.mark.parametrize(
    ("guarantee", "errors"),
    [
        ({"outcome_type": "nope", "min_attainment": "0.85", "credit_percent_per_point": "5"},
         {"guarantee.outcome_type": ["Unknown outcome type 'nope'."]}),
        ({"outcome_type": RES, "min_attainment": "1.5", "credit_percent_per_point": "5"},
         {"guarantee.min_attainment": ['A ratio above 0 and at most 1, such as "0.85" for 85 %.']}),
        ({"outcome_type": RES, "min_attainment": "0", "credit_percent_per_point": "5"},
         {"guarantee.min_attainment": ['A ratio above 0 and at most 1, such as "0.85" for 85 %.']}),
        ({"outcome_type": RES, "min_attainment": "0.85", "credit_percent_per_point": "-5"},
         {"guarantee.credit_percent_per_point": ["Must not be negative."]}),
        ({"outcome_type": RES, "min_attainment": "0.85", "credit_percent_per_point": "101"},
         {"guarantee.credit_percent_per_point": ["At most 100 (% of the charges per point below)."]}),
        ({"outcome_type": RES, "min_attainment": "0.85"},
         {"guarantee.credit_percent_per_point": ["Required."]}),
        ({"outcome_type": RES, "min_attainment": "0.85", "credit_percent_per_point": "5", "cap": "1"},
         {"guarantee.cap": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_an_invalid_guarantee_is_refused_field_by_field(guarantee, errors):
    with pytest.raises(TermsInvalid) as refused:
        terms_parse({"effective_from": "2026-01-01", "guarantee": guarantee}, known_types={RES})
    assert refused.value.fields == errors


def test_a_credits_contract_cannot_carry_a_guarantee():
    doc = {"effective_from": "2026-01-01", "unit": "credits", "credit_price": "0.02",
           "guarantee": {"outcome_type": RES, "min_attainment": "0.85", "credit_percent_per_point": "5"}}  # fmt: skip
    with pytest.raises(TermsInvalid) as refused:
        terms_parse(doc)
    assert refused.value.fields == {
        "guarantee": ["A guarantee credits outcome charges in money: not in a credits contract."]
    }


# --- End to end: a June that closes below its guarantee ------------------------------------------


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def test_an_invoice_finalized_below_the_guarantee_carries_the_credit(acme):
    contract(acme, prices=[unit()], guarantee={"outcome_type": RES, "min_attainment": "0.85",
                                               "credit_percent_per_point": "5"})  # fmt: skip
    post(acme, 41)  # billable
    post(acme, 9, prefix="ab", failure_reason="abandoned")  # attempted, failed
    post(acme, 3, prefix="sb", sandbox=True)  # not attempted
    post(acme, 2, at=datetime(2026, 6, 30, 20, 0, tzinfo=UTC), prefix="tail")  # still pending at the close
    closed = datetime(2026, 7, 1, 1, tzinfo=UTC)
    outcomes_settle(now=closed)
    # A draft (even of the closed month) is not checked: no credit, a note saying when it will be.
    draft = invoice_draft_refresh(account=acme, period="2026-06", now=closed)
    assert (draft.total, [ln.kind for ln in draft.lines.all()]) == (D("40.59"), ["outcome"])
    assert draft.notes == [
        "Outcome guarantee — Resolved conversation: at least 85 % attainment, checked when the period closes; "
        "a shortfall is credited on the final invoice."
    ]
    invoice = invoice_finalize(account=acme, period="2026-06", now=closed).invoice
    # 41 of 50 attempted = 0.82 (sandbox and the 2 pending not counted): 3 points × 5 % = 15 % of $40.59
    # = $6.0885 → $6.09.
    assert [(ln.kind, ln.amount) for ln in invoice.lines.order_by("position")] == [
        ("outcome", D("40.59")), ("guarantee_credit", D("-6.09"))]  # fmt: skip
    assert (invoice.subtotal, invoice.total) == (D("34.50"), D("34.50"))
    assert invoice.notes == []
    # The finance page counts the month alike (one definition of attainment).
    row = attainment_report(period="2026-06", months=1, group_by=("account", "outcome_type")).latest()[0]
    assert (row.billable, row.attempted, row.rate) == (41, 50, D("0.8200"))
    # The invoice page, the PDF and the plan page say it in words.
    viewer = Client()
    viewer.force_login(factories.make_user(Role.VIEWER, acme))
    page = viewer.get(f"/account/acme/invoices/{invoice.pk}/").content.decode()
    assert "Guarantee shortfall — Resolved conversation: 82 % attainment (41 of 50 attempted were billable)" in page
    assert viewer.get(f"/account/acme/invoices/{invoice.pk}/invoice.pdf").status_code == 200
    plan = viewer.get("/account/acme/plan/").content.decode()
    assert "Outcome guarantee: each month, at least 85 % of the Resolved conversation outcomes" in plan
