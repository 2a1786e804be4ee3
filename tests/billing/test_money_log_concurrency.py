"""The money log under concurrency: real transactions on parallel connections never fork the chain."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import DatabaseError, connection, transaction

from billing.ingestion import outcomes_settle
from billing.moneylog import kinds
from billing.moneylog.canonical import GENESIS_PREV
from billing.moneylog.models import MoneyLogEntry
from billing.moneylog.services import money_act_record
from billing.moneylog.verify import ledger_verify
from billing.services import invoice_finalize
from tests import factories
from tests.billing.helpers import AFTER_JUNE, JUNE_12, contract, post
from tests.threads import in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _run_together(jobs) -> None:
    """Each job on its own connection, all released at once."""
    barrier = threading.Barrier(len(jobs))

    def started(job):
        def run():
            barrier.wait(timeout=30)
            job()

        return run

    threads = [in_thread(started(job)) for job in jobs]
    for thread, errors in threads:
        thread.join(timeout=120)
        if errors:
            raise errors[0]


def _assert_one_chain() -> list[MoneyLogEntry]:
    entries = list(MoneyLogEntry.objects.order_by("id"))
    assert [e.id for e in entries] == list(range(1, len(entries) + 1))
    assert [e.prev_hash for e in entries] == [GENESIS_PREV] + [e.hash for e in entries[:-1]]
    assert len({e.prev_hash for e in entries}) == len(entries)  # no two entries follow the same one: no fork
    return entries


def test_parallel_acts_on_parallel_connections_make_one_chain():
    account = factories.make_account("acme")

    def acts(worker: int):
        def run():
            for i in range(15):
                with transaction.atomic():
                    money_act_record(kind=kinds.CREDITS_GRANTED, account_id=account.pk, data={"worker": worker, "i": i})
                    # The rest of the transaction's work comes after the act: the chain's lock is not held meanwhile.
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_sleep(0.002)")

        return run

    _run_together([acts(w) for w in range(6)])
    entries = _assert_one_chain()
    assert len(entries) == 90
    assert sorted((e.data["worker"], e.data["i"]) for e in entries) == [(w, i) for w in range(6) for i in range(15)]
    assert ledger_verify().ok


def test_ingestion_settlement_and_invoicing_in_parallel_leave_a_whole_log():
    factories.make_outcome_type()
    accounts = [factories.make_account(f"acct-{i}") for i in range(4)]
    for account in accounts:
        contract(account, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    # Batches of four accounts at once, twice each (two connections per account).
    _run_together(
        [
            lambda a=a, k=k: post(a, 20, prefix=f"w{k}", at=JUNE_12 + timedelta(hours=k))
            for a in accounts
            for k in range(2)
        ]
    )
    outcomes_settle(now=AFTER_JUNE, chunk=7, workers=2)
    # Every account finalized by two workers at once.
    _run_together([lambda a=a: invoice_finalize(account=a, period="2026-06", now=AFTER_JUNE) for a in accounts * 2])
    entries = _assert_one_chain()
    assert sum(e.data["count"] for e in entries if e.kind == kinds.CHARGES_RATED) == 160
    assert sum(e.data["count"] for e in entries if e.kind == kinds.CHARGES_SETTLED) == 160
    assert [e.kind for e in entries].count(kinds.INVOICE_FINALIZED) == 4  # once each, whoever won
    result = ledger_verify()
    assert result.ok, result.problems
    assert (result.invoices, result.charges) == (4, 160)


def test_a_repeatable_read_transaction_cannot_extend_the_chain():
    account = factories.make_account("acme")
    with pytest.raises(DatabaseError, match="READ COMMITTED"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        money_act_record(kind=kinds.CREDITS_GRANTED, account_id=account.pk, data={"credits": D("5")})
    assert not MoneyLogEntry.objects.filter(kind=kinds.CREDITS_GRANTED).exists()
