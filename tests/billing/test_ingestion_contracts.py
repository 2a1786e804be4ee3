"""Billing at ingestion reads an account's contracts once, for its pricer and its onboarding hook, and
keeps them for the next batches until a contract or account changes (accounts.refcache)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.ledger.models import Charge
from tests import factories
from tests.billing.helpers import contract, post

RES = "resolved_conversation"


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def contract_reads(queries) -> int:
    return sum(1 for q in queries if "billing_contractversion" in q["sql"])


def test_contracts_read_once_and_kept_until_a_new_version(acme):
    contract(
        acme,
        effective_from="2026-06-01",
        prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}],
        onboarding={"training_days": 10},
    )
    with CaptureQueriesContext(connection) as first:
        post(acme, 3, at=datetime(2026, 6, 5, tzinfo=UTC), prefix="training")
    with CaptureQueriesContext(connection) as second:
        post(acme, 2, at=datetime(2026, 6, 20, tzinfo=UTC), prefix="priced")

    # Read once by the first batch (pricer and hook alike), not at all by the second.
    assert (contract_reads(first.captured_queries), contract_reads(second.captured_queries)) == (1, 0)
    decided = sorted(Charge.objects.values_list("event__event_id", "reason", "amount"))
    assert [(reason, amount) for _, reason, amount in decided] == [
        ("", D("0.99")),
        ("", D("0.99")),
        ("training_window", None),
        ("training_window", None),
        ("training_window", None),
    ]


def test_a_new_contract_version_prices_the_very_next_batch(acme):
    contract(acme, effective_from="2026-06-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    post(acme, 1, at=datetime(2026, 7, 2, tzinfo=UTC), prefix="before")
    contract(acme, effective_from="2026-07-01", prices=[{"outcome_type": RES, "model": "unit", "price": "1.25"}])
    with CaptureQueriesContext(connection) as after:
        post(acme, 1, at=datetime(2026, 7, 3, tzinfo=UTC), prefix="after")

    assert contract_reads(after.captured_queries) == 1
    amounts = dict(Charge.objects.values_list("event__event_id", "amount"))
    assert sorted(amounts.values()) == [D("0.99"), D("1.25")]
    assert [amount for event_id, amount in amounts.items() if event_id.startswith("after")] == [D("1.25")]
