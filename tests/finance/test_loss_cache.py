"""Loss outcomes are counted once per account-month and kept (finance.models.LossCount) with the stamp
of what they were counted from; whatever moves the count moves the stamp, and the month is counted
again: a late outcome, a dispute credited, a new catalogue cost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from accounts.access import Principal
from accounts.models import Role
from billing.ingestion import outcomes_settle
from disputes.services import dispute_credit_apply, dispute_file, dispute_resolve
from finance.models import LossCount
from finance.selectors import margin_report
from metering.services import outcome_cost_create
from tests import factories

pytestmark = pytest.mark.django_db
JUNE = datetime(2026, 6, 10, 12, tzinfo=UTC)


def _post(account, event_id: str, at: datetime = JUNE, **fields) -> None:
    factories.ingest(factories.event_payload(account, event_id, occurred_at=at, **fields), now=at + timedelta(hours=1))


def _losses(account) -> int:
    (row,) = [r for r in margin_report(period="2026-06", months=1, group_by=("account",)).rows]
    return row.loss_outcomes


def test_a_month_is_counted_again_when_what_it_was_counted_from_changes():
    rc = factories.make_outcome_type()  # $0.99 an outcome
    acme = factories.make_account("acme", timezone_name="UTC")
    _post(acme, "a", cost_amount="1.50")  # costs more than it earns
    _post(acme, "b", cost_amount="0.10")
    _post(acme, "c")  # no reported cost, none in the catalogue: not counted a loss
    outcomes_settle(now=JUNE + timedelta(days=5))
    assert _losses(acme) == 1
    kept = LossCount.objects.get(account=acme, period="2026-06")
    assert kept.counts == {"resolved_conversation": 1}

    LossCount.objects.filter(pk=kept.pk).update(counts={"resolved_conversation": 7})
    assert _losses(acme) == 7  # nothing moved: the kept count is read, the events are not scanned again

    _post(acme, "late", at=JUNE + timedelta(days=2), cost_amount="2.00")  # a late one, settled
    outcomes_settle(now=JUNE + timedelta(days=6))
    assert _losses(acme) == 2  # the month rollup moved: counted again

    outcome_cost_create(outcome_type=rc, complexity="", amount=D("1.20"), effective_from=date(2026, 1, 1))
    assert _losses(acme) == 3  # "c" now costs the catalogue's 1.20

    admin = Principal(role=Role.CUSTOMER_ADMIN, account_id=acme.pk, label="admin")
    support = Principal(role=Role.VENDOR_SUPPORT, account_id=None, label="support")
    now = JUNE + timedelta(days=7)
    dispute = dispute_file(principal=admin, account=acme, reason_code="other", message="not resolved",
                           event_ids=["late"], now=now)  # fmt: skip
    dispute_resolve(principal=support, dispute=dispute, decision="approved", now=now)
    dispute_credit_apply(dispute_id=dispute.pk, now=now)
    assert _losses(acme) == 2  # credited: it earns nothing and is no outcome charged any more


def test_the_hourly_job_counts_the_closed_months_ahead_of_the_pages(monkeypatch):
    from finance import tasks

    factories.make_outcome_type()
    acme = factories.make_account("acme", timezone_name="UTC")
    _post(acme, "a", cost_amount="1.50")
    _post(acme, "b", cost_amount="2.50", at=JUNE - timedelta(days=31))  # May
    outcomes_settle(now=JUNE + timedelta(days=5))
    monkeypatch.setattr(tasks, "default_period", lambda: "2026-06")

    assert "2025-07–2026-06 up to date" in tasks.loss_counts_warm()
    assert {(k.period, k.counts["resolved_conversation"]) for k in LossCount.objects.filter(account=acme)} == {
        ("2026-05", 1),
        ("2026-06", 1),
    }
    counted_at = set(LossCount.objects.values_list("counted_at", flat=True))
    tasks.loss_counts_warm()  # nothing moved: nothing counted again
    assert set(LossCount.objects.values_list("counted_at", flat=True)) == counted_at
