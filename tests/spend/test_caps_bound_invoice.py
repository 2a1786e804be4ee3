"""A money cap bounds the invoice: platform fees, included outcomes and fees on attempts count, the
cap is used up to the last charge that fits, and parallel batches never take the invoice past it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from billing.audit.detail import decision_explained
from billing.charges import period_charges
from billing.ingestion import outcomes_settle
from billing.ledger.models import Charge
from billing.services import invoice_draft_refresh
from billing.spend.services import account_spend_status, spend_controls_set
from metering.models import Event
from tests import factories
from tests.billing.helpers import JUNE_12, contract, post
from tests.threads import in_thread

RES = "resolved_conversation"
SETTLED = JUNE_12 + timedelta(days=5)  # every 72 h window closed, still June


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def cap(account, amount: str):
    spend_controls_set(account=account, monthly_cap=D(amount), monthly_cap_outcomes=None,
                       alert_thresholds=[50, 80, 100], at_cap="pause", changed_by="test", now=JUNE_12)  # fmt: skip


def draft_total(account) -> D:
    outcomes_settle(now=SETTLED)
    return invoice_draft_refresh(account=account, period="2026-06", now=SETTLED).total


def capped(account) -> int:
    """The charges the cap ruled out (billing's reason on the charge; they charge nothing)."""
    ruled_out = Charge.objects.filter(account=account, reason="cap_reached")
    assert not ruled_out.filter(amount__isnull=False).exists()
    return ruled_out.count()


PLATFORM = {"prices": [{"outcome_type": RES, "model": "unit", "price": "0.75"}],
            "platform_fee": {"amount": "1500.00", "included_outcomes": 1000}}  # fmt: skip
HELPDESK = {"prices": [{"outcome_type": RES, "model": "helpdesk", "item_fee": "0.30", "automation_fee": "0.90"}]}
PER_CONVERSATION = {"basis": "per_conversation", "prices": [{"outcome_type": RES, "model": "unit", "price": "0.40"}]}


def test_without_a_cap_status_spend_is_the_invoice(acme):
    """The issue's reproduction: $1,500 including 1,000, then $0.75; 1,037 outcomes."""
    contract(acme, **PLATFORM)
    post(acme, 1037, step=timedelta(seconds=20))
    assert draft_total(acme) == D("1527.75")
    status = account_spend_status(account=acme, now=SETTLED)
    assert (status.period_spend, status.invoice_total, status.pending_spend) == (D("1527.75"), D("1527.75"), 0)
    assert status.as_dict()["period_spend"] == "1527.75"


def test_a_platform_fee_counts_against_the_cap_once(acme):
    contract(acme, **PLATFORM)
    cap(acme, "1600.00")
    post(acme, 1200, step=timedelta(seconds=20))
    # 1,000 included, then 133 × 0.75 = 99.75 fit under 1,600; the 134th would make 1,600.50.
    assert capped(acme) == 67
    assert draft_total(acme) == D("1599.75")
    status = account_spend_status(account=acme, now=SETTLED)
    assert (status.paused, status.period_spend) == (True, D("1599.75"))


def test_an_outcome_count_cap_counts_the_platform_fees_included_outcomes(acme):
    """Included outcomes cost nothing but are outcomes: a cap of 2 outcomes admits two of three,
    whether or not they fall inside the platform fee's allowance (rated ``included`` first)."""
    contract(acme, prices=[{"outcome_type": RES, "model": "unit", "price": "0.75"}],
             platform_fee={"amount": "100.00", "included_outcomes": 10})  # fmt: skip
    spend_controls_set(account=acme, monthly_cap=None, monthly_cap_outcomes=2, alert_thresholds=[50, 80, 100],
                       at_cap="pause", changed_by="test", now=JUNE_12)  # fmt: skip
    post(acme, 3)
    reasons = Charge.objects.filter(account=acme).order_by("occurred_at").values_list("reason", flat=True)
    assert list(reasons) == ["included", "included", "cap_reached"]
    assert account_spend_status(account=acme, now=SETTLED).paused is True


def test_ticket_fees_on_handed_off_tickets_count_and_stop_at_the_cap(acme):
    contract(acme, **HELPDESK)
    cap(acme, "3.00")
    post(acme, 20, human_handoff=True)  # an agent took every ticket: $0.30 each, no automation fee
    assert capped(acme) == 10
    # A capped ticket keeps the platform's reason; its check names the cap.
    charge = Charge.objects.filter(account=acme, reason="cap_reached").select_related("event").first()
    assert charge.attempt
    kept = factories.event_seen(charge.event.event_id, acme)
    assert (kept.non_billable_reason, kept.shown_status, kept.shown_reason) == (
        "human_handoff", "non_billable", "human_handoff"
    )  # fmt: skip
    checks = {c.code: c.outcome for c in decision_explained(kept)}
    assert checks["within_spend_cap"] == "failed"
    assert draft_total(acme) == D("3.00")
    assert account_spend_status(account=acme, now=SETTLED).paused is True


def _parallel(account, *, size: int, fields: list[dict]):
    """One batch of ``size`` outcomes per entry of ``fields``, all posted at once, each on its own connection."""
    threads = [
        in_thread(lambda n=n, f=f: post(account, size, at=JUNE_12 + timedelta(minutes=n), prefix=f"w{n}",
                                        step=timedelta(seconds=7), **f))
        for n, f in enumerate(fields)
    ]  # fmt: skip
    for thread, errors in threads:
        thread.join()
        assert not errors, errors


@pytest.mark.django_db(transaction=True)
def test_eight_connections_never_take_a_platform_fee_invoice_over_its_cap():
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    contract(acme, **PLATFORM)
    cap(acme, "1530.00")
    _parallel(acme, size=150, fields=[{}] * 8)  # 1,200 outcomes
    # 1,000 included + 40 × 0.75 = 1,530.00 exactly: the cap is used to the last charge that fits.
    assert draft_total(acme) == D("1530.00")
    assert capped(acme) == 160
    charges = period_charges(account=acme, period="2026-06")
    assert (charges.total, charges.spend, charges.pending) == (D("1530.00"), D("1530.00"), 0)


@pytest.mark.django_db(transaction=True)
def test_eight_connections_never_take_a_helpdesk_invoice_over_its_cap():
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    contract(acme, **HELPDESK)
    cap(acme, "12.00")
    # Resolved by the AI: 1.20 each (ticket + automation); abandoned: 0.30 each.
    _parallel(acme, size=10, fields=[{}, {"failure_reason": "abandoned"}] * 4)
    total = draft_total(acme)
    assert total <= D("12.00")
    # The first charge that would not fit pauses the account: at most one charge (1.20) is left unused.
    assert total > D("12.00") - D("1.20")
    assert Event.objects.filter(account=acme).count() == 80


@pytest.mark.django_db(transaction=True)
def test_eight_connections_never_take_a_per_conversation_invoice_over_its_cap():
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    contract(acme, **PER_CONVERSATION)
    cap(acme, "10.00")
    _parallel(acme, size=10, fields=[{}, {"failure_reason": "greeting_only"}] * 4)
    # 25 conversations × 0.40 = 10.00, resolved or not.
    assert draft_total(acme) == D("10.00")
    assert capped(acme) == 55
