"""Disputes over a final invoice whose events are not stamped with their lines yet.

Finalizing freezes the events of each line and stamping follows (billing.services); a dispute
filed, or credited, in between must treat those events as invoiced — never as still open.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accounts.access import Principal
from accounts.models import Role
from billing.ingestion import outcomes_settle
from billing.invoices.models import CreditNote, InvoiceEventsPending
from billing.ledger.models import Charge
from billing.services import invoice_finalize
from disputes.services import dispute_credit_apply, dispute_file, dispute_resolve
from metering.models import Event
from tests import factories
from tests.billing.helpers import post

JULY_2 = datetime(2026, 7, 2, tzinfo=UTC)


@pytest.fixture
def june(db):
    factories.make_outcome_type("resolved_conversation", "0.99")
    acme = factories.make_account("acme")
    post(acme, 4, at=datetime(2026, 6, 10, tzinfo=UTC))
    outcomes_settle(now=JULY_2)
    invoice = invoice_finalize(account=acme, period="2026-06", now=JULY_2, link_events=False).invoice
    assert InvoiceEventsPending.objects.filter(invoice=invoice).exists()
    return invoice


def admin(account) -> Principal:
    return Principal(role=Role.CUSTOMER_ADMIN, account_id=account.pk, label="alice")


def test_a_line_disputed_before_stamping_names_the_lines_events(june):
    line = june.lines.get()
    dispute = dispute_file(principal=admin(june.account), account=june.account, reason_code="other",
                           message="x", invoice_line_id=line.pk, now=JULY_2)  # fmt: skip
    assert dispute.items.count() == 4
    assert (dispute.invoice_id, dispute.invoice_line_id) == (june.pk, line.pk)
    assert set(Charge.objects.values_list("state", "invoice_line_id")) == {("disputed", line.pk)}


def test_an_approved_dispute_over_unstamped_events_is_a_credit_note(june):
    first = Event.objects.order_by("occurred_at").first()
    dispute = dispute_file(principal=admin(june.account), account=june.account, reason_code="other",
                           message="x", event_ids=[first.event_id], now=JULY_2)  # fmt: skip
    support = Principal(role=Role.VENDOR_SUPPORT, account_id=None, label="sam")
    dispute_resolve(principal=support, dispute=dispute, decision="approved", now=JULY_2 + timedelta(hours=1))
    dispute_credit_apply(dispute_id=dispute.pk, now=JULY_2 + timedelta(hours=2))
    first = factories.event_seen(first.event_id)
    assert (first.shown_status, first.invoice_line_id) == ("credited", june.lines.get().pk)  # not "open period"
    assert CreditNote.objects.get(dispute_id=dispute.pk).invoice_id == june.pk
