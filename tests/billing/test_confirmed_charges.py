"""A confirmation that closes the measurement window settles the outcome billable outside
settlement's run: its charge must become ``rated`` in the same transaction, or the invoice (which
bills rated charges) would never bill it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.ingestion import outcomes_settle, signal_record
from billing.ledger.models import Charge
from billing.services import invoice_finalize
from metering.models import Event
from tests import factories
from tests.billing.helpers import JUNE_12, contract

pytestmark = pytest.mark.django_db


def test_a_confirmed_outcome_is_rated_and_invoiced(account_a):
    factories.make_outcome_type("saved_cancellation", "2.00", measurement_window_hours=72, confirm_closes_window=True)
    contract(account_a, prices=[{"outcome_type": "saved_cancellation", "model": "unit", "price": "2.00"}])
    factories.ingest(
        factories.event_payload(account_a, "save-1", occurred_at=JUNE_12, outcome_type="saved_cancellation"),
        factories.event_payload(account_a, "save-2", occurred_at=JUNE_12, outcome_type="saved_cancellation"),
        now=JUNE_12 + timedelta(minutes=5),
    )
    confirmed_at = JUNE_12 + timedelta(hours=1)

    signal_record(
        event=Event.objects.get(event_id="save-1"), type="confirmed", occurred_at=confirmed_at, now=confirmed_at
    )

    assert Event.objects.get(event_id="save-1").status == "billable"
    assert dict(Charge.objects.values_list("event__event_id", "state")) == {"save-1": "rated", "save-2": "estimated"}
    after_june = JUNE_12 + timedelta(days=25)
    outcomes_settle(now=after_june)  # save-2's window closes; save-1 was settled already
    invoice = invoice_finalize(account=account_a, period="2026-06", now=after_june).invoice
    assert invoice.total == Decimal("4.00")
    assert set(Charge.objects.values_list("state", flat=True)) == {"invoiced"}
