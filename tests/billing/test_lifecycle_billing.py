"""An account that is suspended or churned when an event occurs: the event is stored and decided,
never billed (the charge's reason says why), and the vendor's platform is told to stop automating."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.services import account_lifecycle_set
from billing.ledger.models import Charge
from billing.ledger.shown import shown
from billing.spend.services import account_spend_status
from metering.models import Event
from tests.billing.helpers import JUNE_12, contract, post, settle_and_finalize

pytestmark = pytest.mark.django_db

PER_OUTCOME = {"prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "2.00"}]}
BILLED = ("pending", "")  # in its measurement window, to be billed when it closes


def _shown(prefix: str) -> list[tuple[str, str]]:
    """(status, reason) as shown, of the events whose id starts with ``prefix``, in occurrence order."""
    rows = []
    for event in Event.objects.filter(event_id__startswith=prefix).order_by("occurred_at"):
        charge = Charge.objects.filter(event_id=event.pk).first()
        rows.append(shown(event.status, event.non_billable_reason, charge and charge.state, charge and charge.reason))
    return rows


def _move(account, status: str, at):
    account_lifecycle_set(account=account, status=status, effective_at=at, changed_by="op")


def test_outcomes_while_suspended_are_stored_but_not_billed(account_a, outcome_type):
    contract(account_a, **PER_OUTCOME)
    _move(account_a, "suspended", JUNE_12 + timedelta(minutes=3))
    _move(account_a, "active", JUNE_12 + timedelta(minutes=6))

    post(account_a, 9, prefix="s")  # minutes 0–8: 3 before, 3 while suspended, 3 after

    suspended = ("non_billable", "account_suspended")
    assert _shown("s-") == [BILLED] * 3 + [suspended] * 3 + [BILLED] * 3
    invoice = settle_and_finalize(account_a)
    assert invoice.total == Decimal("12.00")  # six outcomes at 2.00


def test_a_churned_account_is_not_billed_and_told_to_stop(account_a, outcome_type):
    contract(account_a, **PER_OUTCOME)
    _move(account_a, "churned", JUNE_12)

    post(account_a, 2, prefix="c")

    assert _shown("c-") == [("non_billable", "account_churned")] * 2
    assert set(Charge.objects.values_list("amount", flat=True)) == {None}
    status = account_spend_status(account=account_a, now=JUNE_12 + timedelta(hours=1))
    assert (status.paused, status.reason, status.period_spend) == (True, "account_churned", Decimal("0"))


def test_a_move_takes_effect_for_the_next_batch_of_the_same_process(account_a, outcome_type):
    """Contracts and moves are kept between batches (accounts.refcache): a move must drop them."""
    contract(account_a, **PER_OUTCOME)
    post(account_a, 1, prefix="before")  # reads and keeps the account's (empty) moves
    _move(account_a, "suspended", JUNE_12 + timedelta(minutes=2))

    post(account_a, 1, at=JUNE_12 + timedelta(minutes=5), prefix="after")

    assert _shown("before-") == [BILLED]
    assert _shown("after-") == [("non_billable", "account_suspended")]


def test_suspended_outcomes_leave_the_pilot_allowance_untouched(account_a, outcome_type):
    contract(account_a, **PER_OUTCOME, onboarding={"starts": "2026-06-01", "pilot_free_outcomes": 2})
    _move(account_a, "suspended", JUNE_12)
    post(account_a, 2, prefix="p1")
    _move(account_a, "active", JUNE_12 + timedelta(hours=1))

    post(account_a, 3, at=JUNE_12 + timedelta(hours=2), prefix="p2")

    assert _shown("p1-") == [("non_billable", "account_suspended")] * 2
    assert _shown("p2-") == [("non_billable", "pilot_free")] * 2 + [BILLED]


def test_an_active_account_is_not_paused_by_its_lifecycle(account_a, outcome_type):
    status = account_spend_status(account=account_a, now=JUNE_12)
    assert (status.paused, status.reason) == (False, None)
