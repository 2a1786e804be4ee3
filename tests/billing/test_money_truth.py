"""One money truth: for every contract model, after any sequence of events, signals, settlements,
disputes credited and outcomes deducted after their window, the figure every screen shows is the
upcoming invoice's total.

    draft invoice total = period_charges().total = status.invoice_total
    status.period_spend = that total + what pending outcomes add = the draft once they settle

The draft invoice is priced from the charges (as finalization will); the figures from the ledger's
rollup, which must equal its rows (and every charge agree with its event's decision) all along.
A hypothesis property test drives each model with random sequences; a small demo world is checked
account by account.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.access import Principal
from accounts.models import Account, Role
from billing.charges import OWN_KINDS, period_charges
from billing.ingestion import outcomes_settle, signal_record
from billing.invoices.corrections import outcome_deduct
from billing.invoices.models import Invoice
from billing.ledger.selectors import attach_charges
from billing.services import credit_note_issue, invoice_draft_refresh, invoice_finalize
from billing.spend.services import account_spend_status
from disputes.services import dispute_credit_apply, dispute_file, dispute_resolve
from metering.models import Event
from outcomeportal.core.periods import period_at
from tests import factories
from tests.billing.helpers import JUNE_12, contract, post

RES, LEAD = "resolved_conversation", "qualified_lead"
BANDS = [{"up_to": 5, "price": "1.00"}, {"up_to": None, "price": "0.50"}]
MODELS: dict[str, dict] = {
    "unit": {"prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}]},
    "complexity": {"prices": [{"outcome_type": RES, "model": "complexity", "default_tier": "moderate",
                               "tiers": {"simple": "0.50", "moderate": "1.50", "complex": "3.00"}}]},
    "graduated": {"prices": [{"outcome_type": RES, "model": "graduated", "bands": BANDS}]},
    "volume": {"prices": [{"outcome_type": RES, "model": "volume", "bands": BANDS}]},
    "helpdesk": {"prices": [{"outcome_type": RES, "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"}]},
    "gain_share": {"prices": [{"outcome_type": RES, "model": "gain_share", "percent": "15", "baseline": "100.00"}]},
    "per_conversation": {"basis": "per_conversation", "prices": [{"outcome_type": RES, "model": "unit",
                                                                   "price": "0.40"}]},
    "platform_fee": {"prices": [{"outcome_type": RES, "model": "unit", "price": "0.75"}],
                     "platform_fee": {"amount": "100.00", "included_outcomes": 5}},
    "credits": {"unit": "credits", "credit_price": "0.02",
                "prices": [{"outcome_type": RES, "model": "unit", "price": "50"},
                           {"outcome_type": LEAD, "model": "unit", "price": "100"}],
                "platform_fee": {"amount": "20.00", "included_credits": "300", "rollover": True}},
    "commitment": {"prices": [{"outcome_type": RES, "model": "unit", "price": "1.00"}],
                   "commitment": {"amount": "12.00", "start": "2026-05", "months": 3, "prepaid": True}},
    "price_lock": {"prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}],
                   "price_lock": {"starts": "2026-05-01", "previous_plan_cost": "5.00", "days": 90}},
    "minimum": {"prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}], "monthly_minimum": "10.00"},
    "pilot": {"prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}],
              "onboarding": {"starts": "2026-06-01", "pilot_free_outcomes": 3}},
    "no_contract": {},
}  # fmt: skip

KINDS = {
    "resolved": {},
    "abandoned": {"failure_reason": "abandoned"},
    "handoff": {"human_handoff": True},
    "sandbox": {"sandbox": True},
    "lead": {"outcome_type": LEAD},
}
post_step = st.tuples(
    st.just("post"),
    st.integers(1, 6),
    st.sampled_from(sorted(KINDS)),
    st.sampled_from(["", "simple", "moderate", "complex"]),
    st.sampled_from([None, "40.00", "250.55", "1000.01"]),
)
steps = st.lists(
    st.one_of(
        post_step,
        st.tuples(st.just("reopen"), st.integers(0, 50)),
        st.tuples(st.just("settle")),
        st.tuples(st.just("dispute"), st.integers(0, 50)),
        st.tuples(st.just("deduct"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=8,
)
SUPPORT = Principal(role=Role.VENDOR_SUPPORT, account_id=None, label="support")


def dispute_credited(account, pick: int, at) -> None:
    """A customer admin disputes a billable outcome of the open period; support approves; the credit
    job credits it (its charge leaves the draft: credited, dispute_credited)."""
    billable = [e for e in attach_charges(list(Event.objects.filter(account=account, status="billable")
                .order_by("pk"))) if e.shown_status == "billable"]  # fmt: skip
    if not billable:
        return
    event = billable[pick % len(billable)]
    admin = Principal(role=Role.CUSTOMER_ADMIN, account_id=account.pk, label="admin")
    dispute = dispute_file(principal=admin, account=account, reason_code="other", message="not resolved",
                           event_ids=[event.event_id], now=at)  # fmt: skip
    dispute_resolve(principal=SUPPORT, dispute=dispute, decision="approved", now=at)
    dispute_credit_apply(dispute_id=dispute.pk, now=at)


def deducted(account, pick: int, at) -> None:
    """The platform reports that the customer came back on an outcome settled billable (a deduction
    after the window): its charge leaves the draft (credited, deducted)."""
    billable = [e for e in attach_charges(list(Event.objects.filter(account=account, status="billable")
                .order_by("pk"))) if e.shown_status == "billable"]  # fmt: skip
    if billable:
        outcome_deduct(event=billable[pick % len(billable)], reason="came back", reported_at=at, by="test", now=at)


_accounts = itertools.count(1)


def assert_one_truth(account, *, now) -> None:
    charges = period_charges(account=account, period="2026-06")
    draft = invoice_draft_refresh(account=account, period="2026-06", now=now)
    status = account_spend_status(account=account, now=now)
    assert charges.total == draft.total == status.invoice_total
    own = sum((ln.amount for ln in draft.lines.all() if ln.kind in OWN_KINDS), D(0))
    assert charges.spend == own
    assert status.period_spend == own + charges.pending == charges.spend_with_pending
    assert status.pending_spend == charges.pending
    assert charges.total == charges.spend + charges.late + charges.topups - charges.credits_applied
    assert factories.rollups_match_rows()


@pytest.fixture
def types(db):
    factories.make_outcome_type()
    factories.make_outcome_type(LEAD, unit_price="4.00", measurement_window_hours=48)


@pytest.mark.parametrize("model", sorted(MODELS))
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_every_figure_is_the_invoice_after_any_sequence(types, model, sequence):
    account = factories.make_account(f"{model}-{next(_accounts)}")
    if MODELS[model]:
        contract(account, effective_from="2026-05-01", **MODELS[model])
    at = JUNE_12
    for n, step in enumerate(sequence):
        if step[0] == "post":
            _, count, kind, complexity, value = step
            fields = dict(KINDS[kind], complexity=complexity) if complexity else dict(KINDS[kind])
            if value is not None:
                fields["value_amount"] = value
            post(account, count, at=at, prefix=f"s{n}", **fields)
        elif step[0] == "reopen":
            recent = list(Event.objects.filter(account=account, status="pending", window_ends_at__gt=at).order_by("pk"))
            if recent:
                event = recent[step[1] % len(recent)]
                signal_record(event=event, type="reopened", occurred_at=at, now=at)
        elif step[0] == "dispute":
            dispute_credited(account, step[1], at)
        elif step[0] == "deduct":
            deducted(account, step[1], at)
        else:
            outcomes_settle(now=at + timedelta(days=3))
        at += timedelta(hours=13)
        assert_one_truth(account, now=at)
    # What a cap reserves for the pending outcomes is what they add once they settle billable.
    before = account_spend_status(account=account, now=at).period_spend
    outcomes_settle(now=JUNE_12 + timedelta(days=12))
    assert invoice_draft_refresh(account=account, period="2026-06", now=JUNE_12 + timedelta(days=12)).total == before
    assert_one_truth(account, now=JUNE_12 + timedelta(days=12))


def test_credit_notes_and_late_outcomes_are_on_the_figure_too(types):
    account = factories.make_account("acme")
    contract(account, effective_from="2026-05-01", **MODELS["platform_fee"])
    post(account, 8, at=JUNE_12 - timedelta(days=20), prefix="may")  # May 23
    outcomes_settle(now=JUNE_12 - timedelta(days=10))
    may = invoice_finalize(account=account, period="2026-05", now=JUNE_12 - timedelta(days=10)).invoice
    credit_note_issue(account=account, amount=D("30.00"), reason="goodwill", invoice_id=may.pk)
    post(account, 7, at=JUNE_12)
    outcomes_settle(now=JUNE_12 + timedelta(days=4))
    charges = period_charges(account=account, period="2026-06")
    assert (charges.fixed, charges.outcomes, charges.credits_applied) == (D("100.00"), D("1.50"), D("30.00"))
    assert (charges.total, charges.spend) == (D("71.50"), D("101.50"))  # the cap holds the month's own charges
    assert_one_truth(account, now=JUNE_12 + timedelta(days=4))


@pytest.mark.django_db(transaction=True)
def test_on_a_small_demo_world_every_screen_shows_the_invoice():
    call_command("seed_demo", events=6000, workers=1, seed=7, stdout=StringIO())
    now = timezone.now()
    vendor = Client()
    vendor.login(username="vendor-operator", password="demo-pass-2026")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    overview = vendor.get("/overview/").context["table"].data.data
    seen = 0
    for account in Account.objects.order_by("pk"):
        period = period_at(now, account.timezone)
        # No stale drafts: every closed month of the demo is final.
        assert not Invoice.objects.filter(account=account, status="draft", period__lt=period).exists()
        draft = invoice_draft_refresh(account=account, period=period, now=now)
        charges = period_charges(account=account, period=period, now=now)
        status = api.get(f"/api/v1/accounts/{account.external_id}/status").json()
        dashboard = vendor.get(f"/account/{account.external_id}/").context
        (panel,) = [p.context for p in dashboard["panels"] if "charges" in p.context]
        spend_page = vendor.get(f"/account/{account.external_id}/spend/").context["status"]
        (row,) = [r for r in overview if r["external_id"] == account.external_id]
        assert charges.total == draft.total, account.external_id
        assert D(status["invoice_total"]) == draft.total
        assert D(status["period_spend"]) == charges.spend_with_pending == panel["status"].period_spend
        assert spend_page.period_spend == charges.spend_with_pending
        assert row["spend"] == charges.spend_with_pending
        seen += 1
    assert seen == 6
