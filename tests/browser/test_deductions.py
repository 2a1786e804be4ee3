"""Deducting an outcome after its window in a real browser: a vendor operator opens an invoiced event,
deducts it (the customer came back), and the customer's admin reads the credit note on the event.
Screenshots go to ``$SCREENSHOTS_DIR`` (default: ``outcomeportal-screenshots`` in the temp folder)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.ingestion import outcomes_settle
from billing.invoices.models import CreditNote
from billing.ledger.models import Charge, Deduction
from billing.services import invoice_finalize
from metering.models import Event
from outcomeportal.core.periods import period_add, period_at
from tests import factories
from tests.billing.helpers import contract, post
from tests.browser.conftest import CHROMIUM
from tests.browser.test_payments import _login, _shot

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
]


def test_an_operator_deducts_an_invoiced_outcome_and_the_customer_reads_it(live_server, browser, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme Support")
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    now = timezone.now()
    period = period_add(period_at(now, "UTC"), -1)
    post(acme, 3, at=datetime.fromisoformat(f"{period}-10T10:00:00+00:00"))
    outcomes_settle(now=now)
    invoice = invoice_finalize(account=acme, period=period, now=now).invoice
    factories.make_user(Role.VENDOR_OPERATOR, None, "olivia")
    factories.make_user(Role.CUSTOMER_ADMIN, acme, "alice")
    event = Event.objects.filter(account=acme).order_by("occurred_at").first()
    page_url = f"{live_server.url}/account/acme/events/{event.event_id}"

    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _login(page, live_server.url, "olivia")
    page.goto(page_url)
    form = page.get_by_role("form", name="Deduct after the window")
    form.get_by_label("Reason").fill("Customer wrote back on day 9: not resolved")
    form.get_by_label("Customer came back at").fill((now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    _shot(page, "event-deduct-form")
    form.get_by_role("button", name="Deduct this outcome").click()
    page.wait_for_load_state()
    assert page.get_by_text("Deducted: credited on the next invoice.").is_visible()
    note = CreditNote.objects.get()
    assert (note.invoice_id, note.amount) == (invoice.pk, Decimal("0.99"))
    assert page.get_by_text(f"credit note {note.number} gives $0.99 back on the next invoice").is_visible()
    assert page.get_by_role("form", name="Deduct after the window").count() == 0
    _shot(page, "event-deducted")
    assert Charge.objects.get(event_id=event.pk).state == "credited"
    assert Deduction.objects.get().created_by == "olivia"

    customer = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _login(customer, live_server.url, "alice")
    customer.goto(page_url)
    assert customer.get_by_text("Customer wrote back on day 9: not resolved").first.is_visible()
    assert customer.get_by_text("Customer came back (reported)").is_visible()
    assert customer.get_by_text("Credited: deducted after the window, the customer came back").is_visible()
    assert customer.get_by_role("form", name="Deduct after the window").count() == 0
    _shot(customer, "event-deducted-customer")
