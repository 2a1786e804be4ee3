"""Billing at ingestion reads a batch's contracts once, for its pricer and its onboarding hook."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from metering.models import Event
from tests import factories
from tests.billing.helpers import contract, post

RES = "resolved_conversation"


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    return factories.make_account("acme")


def contract_reads(queries) -> int:
    return sum(1 for q in queries if "billing_contractversion" in q["sql"])


def test_one_contract_read_per_batch_prices_and_rules_out_alike(acme):
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

    assert (contract_reads(first.captured_queries), contract_reads(second.captured_queries)) == (1, 1)
    decided = sorted(Event.objects.values_list("event_id", "non_billable_reason", "amount"))
    assert [(reason, amount) for _, reason, amount in decided] == [
        ("", D("0.99")),
        ("", D("0.99")),
        ("training_window", None),
        ("training_window", None),
        ("training_window", None),
    ]
