"""Locking is the point here: real transactions, parallel threads."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from django.db import connection

from billing.invoice_models import CreditNote, Invoice
from billing.services import credit_note_issue, invoice_finalize
from metering.services import outcomes_settle
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post

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
