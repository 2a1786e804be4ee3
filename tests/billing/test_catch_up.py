"""build_invoices catches up: every closed period not final yet, oldest first, once, in any number of workers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.core.management import call_command

from billing.ingestion import outcomes_settle
from billing.invoices.catchup import invoices_catch_up, periods_due
from billing.invoices.models import Invoice
from billing.ledger.models import Charge
from tests import factories
from tests.billing.helpers import contract, post
from tests.threads import in_thread

RES = "resolved_conversation"
SEPT_10 = datetime(2026, 9, 10, 12, 0, tzinfo=UTC)
NOV_10 = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
DEC_6 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)  # September, October and November closed, none built


def _world():
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    contract(acme, effective_from="2026-09-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.75"}],
             platform_fee={"amount": "100.00", "included_outcomes": 10})  # fmt: skip
    post(acme, 12, at=SEPT_10, prefix="sep")
    post(acme, 13, at=NOV_10, prefix="nov")  # October: no event at all, the fee is still due
    solo = factories.make_account("solo")  # no contract: catalogue prices, billed only when it has events
    post(solo, 3, at=NOV_10, prefix="solo")
    outcomes_settle(now=DEC_6)
    return acme, solo


def _invoices():
    return sorted(
        Invoice.objects.filter(status="finalized").values_list("account__external_id", "period", "number", "total")
    )


@pytest.mark.django_db(transaction=True)
def test_three_missed_months_are_finalized_oldest_first_by_two_workers_at_once():
    acme, solo = _world()
    assert periods_due(account=acme, now=DEC_6) == ["2026-09", "2026-10", "2026-11"]
    assert periods_due(account=solo, now=DEC_6) == ["2026-11"]

    threads = [in_thread(lambda: invoices_catch_up(now=DEC_6)) for _ in range(2)]
    for thread, errors in threads:
        thread.join()
        assert not errors, errors

    finalized = _invoices()
    assert [(a, p, t) for a, p, _, t in finalized] == [
        ("acme", "2026-09", D("101.50")),  # fee + 2 × 0.75 beyond the 10 included
        ("acme", "2026-10", D("100.00")),  # a month with no events still bills its fee
        ("acme", "2026-11", D("102.25")),
        ("solo", "2026-11", D("2.97")),
    ]
    by_period = {p: n for a, p, n, _ in finalized if a == "acme"}
    assert by_period["2026-09"] < by_period["2026-10"] < by_period["2026-11"]  # oldest first
    assert sorted(n for *_, n, _ in finalized) == ["INV-000001", "INV-000002", "INV-000003", "INV-000004"]
    assert Charge.objects.filter(state="invoiced", attempt=False).count() == 28
    assert not Invoice.objects.filter(status="draft", period__lt="2026-12").exists()

    again = invoices_catch_up(now=DEC_6)  # run twice: nothing left to do
    assert (again.finalized, _invoices()) == (0, finalized)
    assert periods_due(account=acme, now=DEC_6) == []


@pytest.mark.django_db
def test_the_command_without_a_period_catches_up_and_the_current_month_stays_a_draft(capsys):
    acme, _ = _world()
    Invoice.objects.create(account=acme, period="2026-12", period_start=DEC_6, period_end=DEC_6, currency="USD",
                           refreshed_at=DEC_6)  # fmt: skip
    call_command("build_invoices", now=DEC_6.isoformat())
    out = capsys.readouterr().out
    assert "Catch-up: 4 invoices finalized" in out
    assert "finalized acme:2026-10" in out
    assert Invoice.objects.get(account=acme, period="2026-12").status == "draft"
    call_command("build_invoices", now=DEC_6.isoformat())
    assert "Catch-up: 0 invoices finalized" in capsys.readouterr().out


@pytest.mark.django_db
def test_an_account_without_events_or_fixed_charges_gets_no_empty_invoices():
    factories.make_outcome_type()
    quiet = factories.make_account("quiet")
    contract(quiet, effective_from="2026-09-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.75"}])
    assert periods_due(account=quiet, now=DEC_6) == []
    assert invoices_catch_up(now=DEC_6).finalized == 0
