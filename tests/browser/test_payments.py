"""Recording a payment in a real browser: a vendor operator finds an overdue invoice on Receivables,
records a partial payment and then the rest; the customer's admin sees the invoice paid.
Screenshots go to ``$SCREENSHOTS_DIR`` (default: ``outcomeportal-screenshots`` in the temp folder)."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Role
from accounts.services import account_billing_details_update
from billing.delivery.services import invoice_deliver
from billing.ingestion import outcomes_settle
from billing.invoices.models import Invoice, TaxRate
from billing.services import invoice_finalize
from outcomeportal.core.periods import period_add, period_at
from tests import factories
from tests.billing.helpers import contract, post
from tests.browser.conftest import CHROMIUM
from tests.browser.site import open_menu

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "outcomeportal-screenshots")
PASSWORD = "pw-Secret-123"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _world(settings):
    """Acme's invoice of two months ago: issued, net 14, so overdue today; 48 outcomes at 0.99 + 19 % VAT."""
    settings.OTP_REQUIRED_FOR_STAFF = False
    settings.SELLER_LEGAL_NAME = "Eximius AI Ltd"
    settings.SELLER_ADDRESS = "1 Harbour Street|London EC1A 1AA"
    settings.SELLER_TAX_ID = "GB123456789"
    settings.SELLER_PAYMENT_INSTRUCTIONS = "IBAN GB00 BANK 0000 0000 0000 00"
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme Support")
    account_billing_details_update(
        account=acme, billing_name="Acme Support GmbH", billing_address="Hauptstraße 5\n10115 Berlin",
        billing_country="DE", tax_id="DE999999999", billing_emails=["ap@acme.example"],
    )  # fmt: skip
    TaxRate.objects.create(country="DE", rate=D("19"))
    now = timezone.now()
    period = period_add(period_at(now, "UTC"), -2)
    start = datetime.fromisoformat(f"{period}-10T10:00:00+00:00")
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
             payment_terms_days=14)  # fmt: skip
    post(acme, 48, at=start)
    outcomes_settle(now=now)
    invoice = invoice_finalize(account=acme, period=period, now=now - timedelta(days=20)).invoice
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    invoice_deliver(invoice_id=invoice.pk)  # what the worker does once the invoice is committed
    factories.make_user(Role.VENDOR_OPERATOR, None, "olivia")
    factories.make_user(Role.CUSTOMER_ADMIN, acme, "alice")
    return acme, invoice


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_operator_records_a_payment_in_two_parts(live_server, browser, settings):
    _, invoice = _world(settings)
    assert (invoice.total_with_tax, invoice.payment_status) == (D("56.55"), "open")
    base = live_server.url
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _login(page, base, "olivia")

    open_menu(page, "Money")
    page.get_by_role("link", name="Receivables").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Receivables", exact=True).is_visible()
    assert page.get_by_text("6 days overdue").is_visible()
    _shot(page, "receivables")

    page.get_by_role("link", name=invoice.number).click()
    page.wait_for_load_state()
    assert page.locator("[data-payment-status]").inner_text() == "Open"
    assert page.locator("[data-amount-due]").inner_text() == "$56.55"

    form = page.get_by_role("form", name="Record a payment")
    form.get_by_label("Amount (USD)").fill("20.00")
    form.get_by_label("Reference").fill("BANK-0042")
    form.get_by_role("button", name="Record payment").click()
    page.wait_for_load_state()
    assert page.get_by_text(f"Payment of $20.00 recorded. Invoice {invoice.number} is open; $36.55 due.").is_visible()
    assert page.locator("[data-amount-due]").inner_text() == "$36.55"
    assert page.get_by_role("cell", name="BANK-0042").is_visible()
    _shot(page, "invoice-partly-paid")

    form = page.get_by_role("form", name="Record a payment")
    form.get_by_label("Amount (USD)").fill("36.55")
    form.get_by_label("Reference").fill("BANK-0043")
    form.get_by_role("button", name="Record payment").click()
    page.wait_for_load_state()
    assert page.locator("[data-payment-status]").inner_text() == "Paid"
    assert page.locator("[data-amount-due]").inner_text() == "$0.00"
    assert page.get_by_role("form", name="Record a payment").count() == 0  # nothing left to record
    _shot(page, "invoice-paid")
    open_menu(page, "Money")
    page.get_by_role("link", name="Deliveries", exact=True).first.click()
    page.wait_for_load_state()
    row = page.locator("tr[data-delivery]")
    assert row.count() == 1
    assert "ap@acme.example" in row.inner_text() and "Sent" in row.inner_text()
    _shot(page, "deliveries")
    invoice.refresh_from_db()
    assert (invoice.payment_status, invoice.amount_paid) == ("paid", D("56.55"))

    # The customer's admin sees it paid, with the document's details, and no forms.
    customer = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    _login(customer, base, "alice")
    customer.goto(f"{base}/account/acme/invoices/{invoice.pk}/")
    assert customer.locator("[data-payment-status]").inner_text() == "Paid"
    assert customer.get_by_text("Acme Support GmbH").first.is_visible()
    assert customer.get_by_role("form", name="Record a payment").count() == 0
    _shot(customer, "invoice-customer")
    customer.get_by_role("link", name="Invoices", exact=True).first.click()
    customer.get_by_role("link", name="Billing details").click()
    customer.wait_for_load_state()
    assert customer.get_by_label("Legal name").input_value() == "Acme Support GmbH"
    customer.get_by_label("Billing emails (one a line)").fill("ap@acme.example\ncfo@acme.example")
    customer.get_by_role("button", name="Save billing details").click()
    customer.wait_for_load_state()
    assert customer.get_by_text("Billing details saved.").is_visible()
    _shot(customer, "billing-details")
    assert Invoice.objects.get(pk=invoice.pk).amount_due == D("0")
