"""Voiding an invoice in a real browser: a vendor operator voids an unpaid invoice issued under the wrong
price, lands on its replacement (a draft), and the void invoice links to it. Screenshots go to
``$SCREENSHOTS_DIR`` (default: ``artifacts/screenshots`` in the repository)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.ingestion import outcomes_settle
from billing.invoices.models import Invoice
from billing.services import invoice_finalize
from outcomeportal.core.periods import period_add, period_at
from tests import factories
from tests.billing.helpers import contract, post
from tests.browser.conftest import CHROMIUM
from tests.browser.test_payments import _login

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(__file__).resolve().parents[2] / "artifacts/screenshots")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_void_an_invoice(live_server, browser, settings):
    settings.OTP_REQUIRED_FOR_STAFF = False  # vendor staff sign in with the password (docs/security.md)
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme Support")
    now = timezone.now()
    period = period_add(period_at(now, "UTC"), -1)
    contract(acme, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(acme, 48, at=datetime.fromisoformat(f"{period}-10T10:00:00+00:00"))
    outcomes_settle(now=now)
    invoice = invoice_finalize(account=acme, period=period, now=now - timedelta(minutes=5)).invoice
    factories.make_user(Role.VENDOR_OPERATOR, None, "olga")
    factories.make_user(Role.CUSTOMER_ADMIN, acme, "alice")

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/account/acme/invoices/{invoice.pk}/")
    form = page.get_by_role("form", name="Void and reissue")
    assert (
        "Voiding does not forgive money: to give some back, issue a credit note instead."
        in form.locator("xpath=..").inner_text()
    )
    form.get_by_label("Reason (kept on the void invoice, seen by the customer)").fill("Priced at the wrong rate")
    form.get_by_label(f"Void {invoice.number} and reissue {period}").check()
    _shot(page, "invoice-void-form")
    form.get_by_role("button", name="Void and reissue").click()
    page.wait_for_load_state("networkidle")

    replacement = Invoice.objects.get(replaces=invoice)
    assert page.url.endswith(f"/account/acme/invoices/{replacement.pk}/")
    assert page.get_by_text(f"Invoice {invoice.number} is void. {period} is reissued").is_visible()
    notice = page.locator("[data-replaces]")
    assert f"in place of invoice {invoice.number}" in notice.inner_text()
    assert "Priced at the wrong rate" in notice.inner_text()
    assert page.get_by_role("heading", name="Reissued invoice (draft)").is_visible()
    _shot(page, "invoice-void-replacement")

    notice.get_by_role("link", name=f"invoice {invoice.number}").click()
    page.wait_for_load_state("networkidle")
    void = page.locator("[data-void]")
    assert "Void since" in void.inner_text() and "Priced at the wrong rate" in void.inner_text()
    assert page.get_by_role("form", name="Void and reissue").count() == 0  # nothing left to void
    assert page.get_by_role("form", name="Record a payment").count() == 0
    _shot(page, "invoice-void")
    void.get_by_role("link").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/account/acme/invoices/{replacement.pk}/")

    # The customer's admin reads the void invoice, and has no form to void anything.
    customer = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    _login(customer, live_server.url, "alice")
    customer.goto(f"{live_server.url}/account/acme/invoices/{invoice.pk}/")
    assert "Priced at the wrong rate" in customer.locator("[data-void]").inner_text()
    customer.goto(f"{live_server.url}/account/acme/invoices/{replacement.pk}/")
    assert customer.get_by_role("form", name="Void and reissue").count() == 0
    invoice.refresh_from_db()
    assert (invoice.status, invoice.void_reason) == ("void", "Priced at the wrong rate")
    assert errors == []
