"""Credits in the pure pricing core, by hand (no database): plan credits first, then prepaid, then overage.

The contract of every scenario: 50 credits per resolution, 100 per qualified lead, one credit
worth $0.02, a "Growth plan" at $20.00 a month including 1,000 credits (rolling over unless
said otherwise). Top-up packs are priced at the conversion: 500 credits = $10.00.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.contracts import terms_parse
from billing.pricing import Carry, CreditUse, Group, LateBatch, PeriodInput, PrepaidIn, credit_postings, price_period

RES, LEAD = "resolved_conversation", "qualified_lead"
PLAN = {"name": "Growth plan", "amount": "20.00", "included_credits": "1000", "rollover": True}


def credit_terms(rollover: bool = True, **extra):
    return terms_parse(
        {
            "effective_from": "2026-01-01",
            "unit": "credits",
            "credit_price": "0.02",
            "prices": [
                {"outcome_type": RES, "model": "unit", "price": "50"},
                {"outcome_type": LEAD, "model": "unit", "price": "100"},
            ],
            "platform_fee": {**PLAN, "rollover": rollover},
            **extra,
        }
    )


def topup(ref: int = 1, credits: str = "500", amount: str = "10.00") -> PrepaidIn:
    return PrepaidIn(ref, "topup", D(credits), D(amount), f"Top-up: {credits} credits")


def price(terms, *groups, period="2026-06", carry_in=None, prepaid=(), late=()):
    return price_period(
        PeriodInput(
            period, "USD", terms, tuple(groups), carry_in=carry_in or Carry(), prepaid=tuple(prepaid), late=tuple(late)
        )
    )


def kinds(priced):
    return [(ln.kind, ln.credits, ln.amount) for ln in priced.lines]


def balance_after(use: CreditUse) -> D:
    return use.rolled_out + use.purchased_out


def test_bundle_then_top_up_then_overage_with_rollover():
    t = credit_terms()
    # June: 12 × 50 + 3 × 100 = 900 of the 1,000 included; 100 roll over.
    june = price(t, Group(RES, "", 12), Group(LEAD, "", 3))
    assert june.total == D("20.00")
    assert june.carry_out == Carry(credits=D(100), purchased=D(0))
    assert (june.credit_use.from_plan, june.credit_use.from_purchased, june.credit_use.overage) == (D(900), 0, 0)

    # July: a 500-credit top-up ($10.00); 16 × 50 + 4 × 100 = 1,200 used:
    # 1,100 from the plan (100 rolled over + 1,000 included), then 100 of the 500 purchased.
    july = price(t, Group(RES, "", 16), Group(LEAD, "", 4), period="2026-07", carry_in=june.carry_out,
                 prepaid=[topup()])  # fmt: skip
    assert kinds(july) == [
        ("platform_fee", None, D("20.00")),
        ("topup", None, D("10.00")),
        ("outcome", D(800), D(0)),
        ("outcome", D(400), D(0)),
    ]
    assert july.total == D("30.00")  # no overage: the top-up covered what the plan did not
    use = july.credit_use
    assert (use.from_plan, use.from_purchased, use.overage, use.expired) == (D(1100), D(100), 0, 0)
    assert july.carry_out == Carry(credits=D(0), purchased=D(400))

    # August: 30 × 50 = 1,500 used: 1,000 included, the 400 purchased left, 100 beyond both → $2.00.
    august = price(t, Group(RES, "", 30), period="2026-08", carry_in=july.carry_out)
    assert kinds(august)[-1] == ("credit_overage", None, D("2.00"))
    assert august.total == D("22.00")
    assert (august.credit_use.from_plan, august.credit_use.from_purchased, august.credit_use.overage) == (
        D(1000),
        D(400),
        D(100),
    )
    assert august.carry_out == Carry(credits=D(0), purchased=D(0))


def test_plan_credits_expire_without_rollover_but_purchased_credits_do_not():
    t = credit_terms(rollover=False)
    june = price(t, Group(RES, "", 12))  # 600 used, 400 expire
    assert (june.credit_use.expired, june.carry_out.credits) == (D(400), D(0))
    july = price(t, Group(RES, "", 24), period="2026-07", carry_in=june.carry_out, prepaid=[topup()])
    # 1,200 used: the 1,000 included, then 200 of the 500 purchased; 300 purchased remain.
    assert july.total == D("30.00")
    assert (july.credit_use.from_plan, july.credit_use.from_purchased, july.carry_out.purchased) == (
        D(1000),
        D(200),
        D(300),
    )
    august = price(t, period="2026-08", carry_in=july.carry_out)  # nothing used
    assert (august.credit_use.expired, august.carry_out.purchased) == (D(1000), D(300))  # the plan's expire only
    assert august.notes[-1].endswith("Prepaid credits left: 300 (they do not expire).")


def test_dispute_credits_are_prepaid_credits_drawn_after_the_plan():
    t = credit_terms()
    grant = PrepaidIn(7, "dispute_credit", D(150), None, "Dispute 17")
    priced = price(t, Group(RES, "", 23), prepaid=[grant])  # 1,150: 1,000 included + 150 granted
    assert priced.total == D("20.00")  # no line for a grant: nothing is charged
    assert (priced.credit_use.from_plan, priced.credit_use.from_purchased, priced.credit_use.overage) == (
        D(1000),
        D(150),
        0,
    )


def test_without_prepaid_credits_the_invoice_is_what_it_was():
    # The issue-4 figures (tests/billing/test_pricing.py) still hold: 100 × $0.02 overage in July.
    t = credit_terms()
    june = price(t, Group(RES, "", 12), Group(LEAD, "", 3))
    july = price(t, Group(RES, "", 16), Group(LEAD, "", 4), period="2026-07", carry_in=june.carry_out)
    assert (kinds(july)[-1], july.total) == (("credit_overage", None, D("2.00")), D("22.00"))
    assert july.notes == ("Credits: 100 rolled over + 1,000 included, 1,200 used; 0 roll over to next month.",)


def test_a_money_contract_keeps_purchased_credits_and_lets_plan_credits_lapse():
    money = terms_parse(
        {"effective_from": "2026-01-01", "prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}]}
    )
    priced = price(money, Group(RES, "", 10), carry_in=Carry(credits=D(100), purchased=D(400)))
    assert priced.total == D("9.90")
    assert priced.carry_out == Carry(credits=D(0), purchased=D(400))
    assert (priced.credit_use.expired, priced.credit_use.drawn) == (D(100), 0)
    no_contract = price(None, Group(RES, "", 1), carry_in=Carry(purchased=D(400)))
    assert no_contract.carry_out.purchased == D(400)


def test_late_credit_outcomes_draw_from_the_current_balance():
    t = credit_terms()
    # June was final with 900 used and 100 rolled over; 2 resolutions of June settle in July.
    june_batch = LateBatch("2026-06", t, Carry(), billed=(Group(RES, "", 18),), late=(Group(RES, "", 2),))
    # July: 20 × 50 = 1,000 own; 1,100 in the plan; the late 100 credits take the last 100.
    july = price(t, Group(RES, "", 20), period="2026-07", carry_in=Carry(credits=D(100)), late=[june_batch])
    late = july.lines[-1]
    assert (late.kind, late.quantity, late.credits, late.unit_credits, late.amount) == ("late", 2, D(100), D(50), 0)
    assert late.alloc.event_credits == D(50) and late.alloc.event_amount == D("1.000000")
    assert (july.credit_use.used, july.credit_use.used_late, july.credit_use.from_plan) == (D(1000), D(100), D(1100))
    assert july.total == D("20.00")
    # Without the rolled-over 100 the late credits are beyond the balance: 100 × $0.02 on the late line.
    short = price(t, Group(RES, "", 20), period="2026-07", late=[june_batch])
    assert (short.lines[-1].amount, short.total) == (D("2.00"), D("22.00"))
    assert "100 beyond your credit balance" in short.lines[-1].description
    assert short.credit_use.overage == D(100)


def test_postings_say_what_the_invoice_says():
    t = credit_terms(rollover=False)
    june = price(t, Group(RES, "", 12), prepaid=[topup()])
    postings = credit_postings(june.credit_use, period="2026-06", plan_name="Growth plan")
    assert [(p.kind, p.credits) for p in postings] == [
        ("bundle_grant", D(1000)),
        ("usage", D(-600)),
        ("expiry", D(-400)),
    ]
    assert postings[0].note == "1,000 credits included in Growth plan for 2026-06"
    assert postings[1].note == "600 credits used by outcomes of 2026-06: 600 from the plan, 0 from prepaid credits"
    rolled = credit_postings(price(credit_terms(), Group(RES, "", 12)).credit_use, period="2026-06")
    assert [(p.kind, p.credits) for p in rolled] == [("bundle_grant", D(1000)), ("usage", D(-600)), ("rollover", 0)]
    assert rolled[-1].note == "400 unused plan credits of 2026-06 roll over to 2026-07"


@settings(max_examples=120, deadline=None)
@given(
    st.booleans(),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 15), st.sampled_from([0, 500, 1000, 2500])), max_size=6),
)
def test_property_the_ledger_balance_is_what_the_invoices_carry(rollover, months):
    """Month after month: Σ postings + Σ prepaid entries == plan carry + purchased carry, never negative;
    the overage bills exactly the credits nobody covered."""
    t = credit_terms(rollover=rollover)
    carry, ledger, period = Carry(), D(0), "2026-01"
    for n, (res, leads, bought) in enumerate(months):
        prepaid = [topup(n + 1, str(bought), str(bought * D("0.02")))] if bought else []
        priced = price(t, Group(RES, "", res), Group(LEAD, "", leads), period=period, carry_in=carry, prepaid=prepaid)
        use = priced.credit_use
        ledger += sum((p.credits for p in prepaid), D(0))
        ledger += sum((p.credits for p in credit_postings(use, period=period)), D(0))
        carry = priced.carry_out
        assert ledger == balance_after(use) == carry.credits + carry.purchased >= 0
        assert use.used == res * 50 + leads * 100
        assert use.from_plan + use.from_purchased + use.overage == use.used
        overage = [ln.amount for ln in priced.lines if ln.kind == "credit_overage"]
        assert sum(overage, D(0)) == use.overage * D("0.02")
        period = f"2026-{n + 2:02d}"
