"""The credit ledger against PostgreSQL: hand-computed months, postings exactly once, top-ups, grants.

Contract (tests/credits/helpers.py): 50 credits per resolution, 100 per lead, $0.02 a credit,
"Growth plan" $20.00 a month including 1,000 credits. A 500-credit top-up costs $10.00.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from accounts.services import account_lifecycle_set
from billing.credits import services as credits_module
from billing.credits.models import CreditLedgerEntry
from billing.credits.services import CreditsRefused, credit_summary, credits_grant, topup_buy
from billing.ingestion import outcomes_settle
from billing.invoices.models import Invoice, InvoiceLine, NumberSeries
from billing.ledger.models import Charge
from billing.pricing import Carry
from billing.services import invoice_finalize, invoices_build
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize
from tests.credits.helpers import LEAD, RES, at, balance, credit_contract, ledger, outcome_types
from tests.faults import finalize_steps
from tests.threads import in_thread


@pytest.fixture
def acme(db):
    outcome_types()
    account = factories.make_account("acme")
    credit_contract(account)
    return account


def lines(invoice: Invoice) -> list[tuple[str, D | None, D]]:
    return [(ln.kind, ln.credits, ln.amount) for ln in invoice.lines.order_by("position")]


def carried(invoice: Invoice) -> D:
    carry = Carry.from_dict(invoice.carry_out)
    return carry.credits + carry.purchased


def buy(account, when, key="topup-key-0001", credits=D(500)):
    return topup_buy(account=account, credits=credits, key=key, bought_by="finance", now=when)


# --- Months by hand -------------------------------------------------------------------------------


def test_bundle_with_rollover_then_a_top_up_then_overage(acme):
    # June: 12 resolutions (600) + 3 leads (300) = 900 of the 1,000 included; 100 roll over.
    post(acme, 12, at=at(6, 12))
    post(acme, 3, at=at(6, 12), outcome_type=LEAD)
    june = settle_and_finalize(acme, "2026-06", at(7, 5))
    assert (june.number, june.total) == ("INV-000001", D("20.00"))
    assert ledger(acme) == [
        ("2026-06", "bundle_grant", D(1000)),
        ("2026-06", "usage", D(-900)),
        ("2026-06", "rollover", D(0)),
    ]
    assert balance(acme) == carried(june) == D(100)

    # July 10: a 500-credit top-up — on the ledger at once, a $10.00 line on July's draft.
    entry, created = buy(acme, at(7, 10))
    assert (created, entry.period, entry.credits, entry.amount, entry.currency) == (
        True,
        "2026-07",
        D(500),
        D("10.00"),
        "USD",
    )
    draft = Invoice.objects.get(account=acme, period="2026-07")
    assert (draft.status, entry.invoice_id) == ("draft", draft.pk)
    assert lines(draft) == [("platform_fee", None, D("20.00")), ("topup", None, D("10.00"))]
    assert balance(acme) == D(600)

    # July: 16 × 50 + 4 × 100 = 1,200: 1,100 from the plan (100 rolled over + 1,000), 100 of the top-up.
    post(acme, 16, at=at(7, 12))
    post(acme, 4, at=at(7, 12), outcome_type=LEAD)
    july = settle_and_finalize(acme, "2026-07", at(8, 5))
    assert lines(july) == [
        ("platform_fee", None, D("20.00")),
        ("topup", None, D("10.00")),
        ("outcome", D(800), D("0.00")),
        ("outcome", D(400), D("0.00")),
    ]
    assert july.total == D("30.00")  # no overage: the top-up was drawn after the bundle
    assert ledger(acme)[3:] == [
        ("2026-07", "topup", D(500)),
        ("2026-07", "bundle_grant", D(1000)),
        ("2026-07", "usage", D(-1200)),
    ]
    usage = CreditLedgerEntry.objects.get(account=acme, kind="usage", period="2026-07")
    assert usage.note == (
        "1,200 credits used by outcomes of 2026-07: 1,100 from the plan, 100 from prepaid credits (invoice INV-000002)"
    )
    assert balance(acme) == carried(july) == D(400)
    assert Carry.from_dict(july.carry_out) == Carry(credits=D(0), purchased=D(400))

    # August: 30 × 50 = 1,500: the 1,000 included, the 400 purchased left, 100 beyond both at $0.02.
    post(acme, 30, at=at(8, 12))
    august = settle_and_finalize(acme, "2026-08", at(9, 5))
    assert lines(august)[-1] == ("credit_overage", None, D("2.00"))
    assert august.total == D("22.00")
    assert ledger(acme)[6:] == [("2026-08", "bundle_grant", D(1000)), ("2026-08", "usage", D(-1400))]
    assert balance(acme) == carried(august) == D(0)
    # Every August event carries its 50 credits; the invoice's credits = drawn + overage.
    billed = Charge.objects.filter(account=acme, invoice_line_id__in=august.lines.values("pk"))
    assert sorted(set(billed.values_list("state", "credits"))) == [("invoiced", D(50))]
    assert sum(ln.credits or 0 for ln in august.lines.filter(kind="outcome")) == D(1400) + D(100)


def test_expiry_without_rollover_and_purchased_credits_never_expire(db):
    outcome_types()
    acme = factories.make_account("acme")
    credit_contract(acme, rollover=False)
    post(acme, 12, at=at(6, 12))  # 600 used, 400 expire
    settle_and_finalize(acme, "2026-06", at(7, 5))
    assert ledger(acme) == [
        ("2026-06", "bundle_grant", D(1000)),
        ("2026-06", "usage", D(-600)),
        ("2026-06", "expiry", D(-400)),
    ]
    assert CreditLedgerEntry.objects.get(kind="expiry").note == (
        "400 unused plan credits of 2026-06 expire (invoice INV-000001)"
    )
    assert balance(acme) == 0

    buy(acme, at(7, 3))
    post(acme, 24, at=at(7, 12))  # 1,200: the 1,000 included, then 200 of the 500 purchased
    july = settle_and_finalize(acme, "2026-07", at(8, 5))
    assert july.total == D("30.00")
    assert balance(acme) == carried(july) == D(300)

    august = settle_and_finalize(acme, "2026-08", at(9, 5))  # a quiet month: the plan's credits expire
    assert ledger(acme)[-2:] == [("2026-08", "bundle_grant", D(1000)), ("2026-08", "expiry", D(-1000))]
    assert balance(acme) == carried(august) == D(300)  # the purchased 300 are still there
    assert august.total == D("20.00")


def test_late_outcomes_draw_from_the_balance_when_they_are_billed(acme):
    post(acme, 18, at=at(6, 12))  # 900 credits
    post(acme, 1, at=at(6, 30, 20), prefix="late")  # its 72 h window closes on July 3
    june = settle_and_finalize(acme, "2026-06", at(7, 1, 1))  # built before that
    assert (june.total, carried(june)) == (D("20.00"), D(100))
    post(acme, 20, at=at(7, 12))  # 1,000 credits
    july = settle_and_finalize(acme, "2026-07", at(8, 5))
    late = july.lines.get(kind="late")
    assert (late.quantity, late.credits, late.unit_credits, late.amount) == (1, D(50), D(50), D("0.00"))
    assert "drawn from your credit balance" in late.description
    assert Charge.objects.get(account=acme, invoice_line_id=late.pk).credits == D(50)
    # July draws 1,000 + 50 from its 1,100 plan credits; 50 roll over.
    assert ledger(acme)[3:] == [
        ("2026-07", "bundle_grant", D(1000)),
        ("2026-07", "usage", D(-1050)),
        ("2026-07", "rollover", D(0)),
    ]
    assert balance(acme) == carried(july) == D(50)


# --- Finalization posts once ------------------------------------------------------------------------


def test_rerunning_the_build_posts_nothing_more(acme):
    post(acme, 12, at=at(6, 12))
    settle_and_finalize(acme, "2026-06", at(7, 5))
    before = ledger(acme)
    assert invoice_finalize(account=acme, period="2026-06", now=at(7, 6)).created is False
    assert invoices_build(period="2026-06", now=at(7, 7)).already_final == 1
    assert ledger(acme) == before
    assert CreditLedgerEntry.objects.filter(account=acme).count() == 3


@pytest.mark.parametrize("checkpoint", ["lines_saved", "events_billed", "numbered", "credits_posted"])
def test_a_build_killed_half_way_posts_nothing_and_the_rerun_posts_once(acme, checkpoint, monkeypatch):
    post(acme, 12, at=at(6, 12))
    outcomes_settle(now=at(7, 5))
    series = NumberSeries.objects.filter(name="invoice").values_list("next_value", flat=True).first()

    def crash(name):
        if name == checkpoint:
            raise RuntimeError(f"killed at {name}")

    with finalize_steps(crash), pytest.raises(RuntimeError, match=checkpoint):
        invoice_finalize(account=acme, period="2026-06", now=at(7, 5))
    assert ledger(acme) == []
    assert NumberSeries.objects.filter(name="invoice").values_list("next_value", flat=True).first() == series
    assert not Invoice.objects.filter(account=acme, status="finalized").exists()

    june = invoice_finalize(account=acme, period="2026-06", now=at(7, 5)).invoice
    invoice_finalize(account=acme, period="2026-06", now=at(7, 5))  # and once more
    assert june.number == "INV-000001"
    assert ledger(acme) == [
        ("2026-06", "bundle_grant", D(1000)),
        ("2026-06", "usage", D(-600)),
        ("2026-06", "rollover", D(0)),
    ]
    assert set(CreditLedgerEntry.objects.values_list("reference", "invoice_id")) == {(f"invoice:{june.pk}", june.pk)}


# --- Top-ups ---------------------------------------------------------------------------------------


def test_a_top_up_sent_twice_is_bought_once(acme):
    first, created = buy(acme, at(7, 10))
    again, created_again = buy(acme, at(7, 10))
    assert (created, created_again, again.pk) == (True, False, first.pk)
    assert CreditLedgerEntry.objects.filter(kind="topup").count() == 1
    assert InvoiceLine.objects.filter(kind="topup").count() == 1
    other, _ = buy(acme, at(7, 11), key="topup-key-0002", credits=D(2500))
    assert (other.credits, other.amount) == (D(2500), D("50.00"))
    assert balance(acme) == D(3000)


def test_a_top_up_never_lands_on_a_final_invoice(acme):
    post(acme, 12, at=at(6, 12))
    june = settle_and_finalize(acme, "2026-06", at(7, 5))
    entry, _ = buy(acme, at(6, 30, 23))  # a clock still in June: June is final, so July
    assert entry.period == "2026-07"
    july = Invoice.objects.get(account=acme, period="2026-07")
    assert (july.status, entry.invoice_id, lines(july)[-1]) == ("draft", july.pk, ("topup", None, D("10.00")))
    assert not june.lines.filter(kind="topup").exists()


def test_top_up_refusals_change_nothing(acme, db):
    globex = factories.make_account("globex")
    contract(globex, prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    with pytest.raises(CreditsRefused, match="priced in credits"):
        buy(globex, at(7, 10))
    with pytest.raises(CreditsRefused, match="not on sale"):
        buy(acme, at(7, 10), credits=D(700))
    with pytest.raises(CreditsRefused, match="purchase key"):
        buy(acme, at(7, 10), key="short")
    assert not CreditLedgerEntry.objects.exists()
    assert not InvoiceLine.objects.filter(kind="topup").exists()


def test_packs_come_from_settings_with_a_discount_rounded_once(acme, settings):
    settings.BILLING_TOPUP_PACKS = [{"credits": "333"}, {"credits": "1000", "discount_percent": "12.5"}]
    assert [(p.credits, p.price) for p in credits_module.credit_summary(account=acme, now=at(7, 1)).packs] == [
        (D(333), D("6.66")),  # 333 × 0.02
        (D(1000), D("17.50")),  # 1,000 × 0.02 × 87.5 %
    ]
    entry, _ = buy(acme, at(7, 10), credits=D(1000))
    assert (entry.amount, "12.5 % off" in entry.note) == (D("17.50"), True)


# --- Dispute credits and adjustments --------------------------------------------------------------


def test_dispute_credits_are_granted_once_and_used_after_the_plan(acme):
    entry = credits_grant(account=acme, credits=D(150), reason="Dispute 17: counted twice", reference="dispute:17",
                          now=at(6, 20))  # fmt: skip
    again = credits_grant(account=acme, credits=D(150), reason="Dispute 17: counted twice", reference="dispute:17",
                          now=at(6, 21))  # fmt: skip
    assert (again.pk, entry.kind, entry.dispute_id, entry.period, entry.amount) == (
        entry.pk,
        "dispute_credit",
        17,
        "2026-06",
        None,
    )
    with pytest.raises(CreditsRefused, match="already granted"):
        credits_grant(account=acme, credits=D(10), reason="x", reference="dispute:17")
    post(acme, 23, at=at(6, 12))  # 1,150 = 1,000 included + the 150 granted
    june = settle_and_finalize(acme, "2026-06", at(7, 5))
    assert june.total == D("20.00")  # no overage, and no charge for the grant
    assert balance(acme) == carried(june) == D(0)


def test_grant_refusals_and_a_negative_adjustment(acme):
    for kwargs, message in [
        ({"credits": D(-5)}, "positive"),
        ({"credits": D("0.00001")}, "4 decimal places"),
        ({"reason": " "}, "reason"),
        ({"kind": "topup"}, "kind is one of"),
        ({"kind": "adjustment", "credits": D(-1)}, "cannot take more"),
    ]:
        args = {"account": acme, "credits": D(10), "reason": "r", "reference": "dispute:1", **kwargs}
        with pytest.raises(CreditsRefused, match=message):
            credits_grant(**args)
    assert not CreditLedgerEntry.objects.exists()
    buy(acme, at(7, 10))
    fix = credits_grant(account=acme, kind="adjustment", credits=D(-100), reason="Pack sold twice",
                        reference="adj:1", now=at(7, 11))  # fmt: skip
    assert (fix.credits, balance(acme)) == (D(-100), D(400))


# --- The ledger's own guarantees -------------------------------------------------------------------


def test_the_ledger_is_append_only_and_each_posting_unique(acme):
    entry, _ = buy(acme, at(7, 10))
    for statement in ("UPDATE billing_creditledgerentry SET credits = 1", "DELETE FROM billing_creditledgerentry"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
            c.execute(statement)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditLedgerEntry.objects.create(
            account=acme, created_at=at(7, 10), kind="topup", credits=D(1), amount=D(0), period="2026-07",
            reference=entry.reference,
        )  # fmt: skip
    assert CreditLedgerEntry.objects.get().credits == D(500)


# --- A top-up racing the build of its month ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_top_up_holding_its_month_is_on_that_months_invoice(monkeypatch):
    outcome_types()
    acme = factories.make_account("acme")
    credit_contract(acme)
    post(acme, 12, at=at(6, 12))
    outcomes_settle(now=at(7, 5))
    holding, go = threading.Event(), threading.Event()
    real_refresh = credits_module.invoice_draft_refresh

    def slow_refresh(**kwargs):  # the top-up's transaction holds June's row lock here
        holding.set()
        go.wait(10)
        return real_refresh(**kwargs)

    monkeypatch.setattr(credits_module, "invoice_draft_refresh", slow_refresh)
    thread, errors = in_thread(lambda: buy(acme, at(6, 30, 23)))
    assert holding.wait(10)
    builder, build_errors = in_thread(lambda: invoice_finalize(account=acme, period="2026-06", now=at(7, 5)))
    go.set()  # the build was waiting on the lock; it now sees the top-up
    thread.join(10)
    builder.join(10)
    assert errors == build_errors == []
    june = Invoice.objects.get(account=acme, period="2026-06")
    assert (june.status, june.total) == ("finalized", D("30.00"))
    assert CreditLedgerEntry.objects.get(kind="topup").period == "2026-06"
    assert balance(acme) == carried(june) == D(900)  # 1,000 − 600 used + 500 bought


@pytest.mark.django_db(transaction=True)
def test_a_build_holding_its_month_sends_the_top_up_to_the_next(monkeypatch):
    outcome_types()
    acme = factories.make_account("acme")
    credit_contract(acme)
    post(acme, 12, at=at(6, 12))
    outcomes_settle(now=at(7, 5))
    holding, go = threading.Event(), threading.Event()

    def pause(name):  # the build's transaction holds June's row lock here
        if name == "credits_posted":
            holding.set()
            go.wait(10)

    with finalize_steps(pause):
        builder, build_errors = in_thread(lambda: invoice_finalize(account=acme, period="2026-06", now=at(7, 5)))
        assert holding.wait(10)
    thread, errors = in_thread(lambda: buy(acme, at(6, 30, 23)))
    go.set()
    builder.join(10)
    thread.join(10)
    assert errors == build_errors == []
    entry = CreditLedgerEntry.objects.get(kind="topup")
    assert entry.period == "2026-07"
    assert Invoice.objects.get(pk=entry.invoice_id).status == "draft"
    assert Invoice.objects.get(account=acme, period="2026-06").total == D("20.00")


def test_plan_credits_roll_over_only_while_the_account_is_active(acme):
    """Suspended at June's end: June's 100 unused plan credits expire (a rollover contract), while the
    prepaid top-up stays; active again at July's end, July's unused credits roll over again."""
    buy(acme, at(6, 5))  # 500 prepaid credits, June
    post(acme, 18, at=at(6, 12))  # 900 of the 1,000 included
    account_lifecycle_set(account=acme, status="suspended", effective_at=at(6, 20), changed_by="ops")
    june = settle_and_finalize(acme, "2026-06", at(7, 5))
    assert ledger(acme) == [
        ("2026-06", "topup", D(500)),
        ("2026-06", "bundle_grant", D(1000)),
        ("2026-06", "usage", D(-900)),
        ("2026-06", "expiry", D(-100)),
    ]
    assert Carry.from_dict(june.carry_out) == Carry(credits=D(0), purchased=D(500))
    assert "expire at the end of the month (the account is not active)" in " ".join(june.notes)
    assert balance(acme) == carried(june) == D(500)
    assert credit_summary(account=acme, now=at(7, 2)).rollover is False

    account_lifecycle_set(account=acme, status="active", effective_at=at(7, 3), changed_by="ops")
    assert credit_summary(account=acme, now=at(7, 4)).rollover is True
    post(acme, 10, at=at(7, 12))  # 500 of the 1,000 included
    july = settle_and_finalize(acme, "2026-07", at(8, 5))
    assert ledger(acme)[4:] == [
        ("2026-07", "bundle_grant", D(1000)),
        ("2026-07", "usage", D(-500)),
        ("2026-07", "rollover", D(0)),
    ]
    assert Carry.from_dict(july.carry_out) == Carry(credits=D(500), purchased=D(500))
