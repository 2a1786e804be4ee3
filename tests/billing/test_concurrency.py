"""Locking is the point here: real transactions, parallel threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import connection

from billing.ingestion import outcomes_settle
from billing.invoices.models import CreditNote, Invoice, InvoiceEventsPending
from billing.ledger.models import Charge
from billing.services import credit_note_issue, invoice_finalize
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post
from tests.faults import finalize_steps

pytestmark = pytest.mark.django_db(transaction=True)


def _parallel(jobs):
    errors = []

    def run(job):
        try:
            job()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_gapless_numbers_when_many_accounts_finalize_at_once():
    factories.make_outcome_type()
    accounts = [factories.make_account(f"acct-{i}") for i in range(6)]
    for account in accounts:
        contract(account, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
        post(account, 3)
    outcomes_settle(now=AFTER_JUNE)
    # Every account finalized by two workers at once.
    _parallel([lambda a=a: invoice_finalize(account=a, period="2026-06", now=AFTER_JUNE) for a in accounts * 2])
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 7)]
    assert set(Invoice.objects.values_list("total", flat=True)) == {D("2.97")}


def test_one_credit_note_per_dispute_under_concurrency():
    account = factories.make_account("acme")
    same_dispute = [lambda: credit_note_issue(account=account, amount=D("5"), reason="approved", dispute_id=42)] * 4
    others = [lambda: credit_note_issue(account=account, amount=D("1"), reason="x") for _ in range(4)]
    _parallel(same_dispute + others)
    assert CreditNote.objects.filter(dispute_id=42).count() == 1
    assert sorted(CreditNote.objects.values_list("number", flat=True)) == [f"CN-{n:06d}" for n in range(1, 6)]


def test_an_outcome_settling_while_an_invoice_finalizes_is_in_neither_its_price_nor_its_events(monkeypatch):
    """Pricing and freezing read one snapshot: an outcome settled by another connection between
    the two is left for a late line, and the frozen events are exactly the ones priced."""
    factories.make_outcome_type()
    acme = factories.make_account("acme")
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(acme, 5)  # 12 June: windows closed by July
    post(acme, 1, at=datetime(2026, 6, 30, 22, tzinfo=UTC), prefix="tail")  # window closes 3 July
    july_1, july_4 = datetime(2026, 7, 1, 1, tzinfo=UTC), datetime(2026, 7, 4, tzinfo=UTC)
    outcomes_settle(now=july_1)

    def settle_meanwhile(checkpoint):
        if checkpoint == "lines_saved":  # priced; the events are not frozen yet
            _parallel([lambda: outcomes_settle(now=july_4)])

    with finalize_steps(settle_meanwhile):
        june = invoice_finalize(account=acme, period="2026-06", now=july_1, link_events=False).invoice
    assert (june.total, june.lines.get().quantity) == (D("4.95"), 5)
    frozen = [pk for ids in InvoiceEventsPending.objects.values_list("event_ids", flat=True) for pk in ids]
    assert len(frozen) == 5
    tail = Charge.objects.select_related("event").get(event__event_id__startswith="tail")
    assert (tail.event.status, tail.state, tail.invoice_line_id) == ("billable", "rated", None)  # settled, for July
