"""An operator edits a contract in a real browser: the form shows each price row's model fields
alone, the preview follows what is typed (htmx), and saving stores a new version with the new price.
The page's screenshot goes to ``$SCREENSHOTS_DIR`` (see tests/browser/test_payments.py)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accounts.models import Role
from billing.invoices.models import ContractVersion
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize
from tests.browser.conftest import CHROMIUM
from tests.browser.test_payments import SCREENSHOTS
from tests.browser.test_portal import _login

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
RES = "resolved_conversation"


@pytest.fixture(autouse=True)
def _password_alone(settings):
    settings.OTP_REQUIRED_FOR_STAFF = False  # vendor staff sign in with the password (docs/security.md)


def _world() -> None:
    """Acme on $0.99 per resolution since May; June closed with 10 resolutions ($9.90)."""
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme Support")
    contract(acme, effective_from="2026-05-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    post(acme, 10, at=datetime(2026, 6, 12, 10, tzinfo=UTC))
    settle_and_finalize(acme, "2026-06")
    factories.make_user(Role.VENDOR_OPERATOR, None, "olga")


def test_an_operator_edits_a_contract(live_server, browser):
    _world()
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/account/acme/contract/")
    preview = page.locator("#contract-preview")
    assert preview.locator("#preview-candidate").inner_text() == "$9.90"  # the version in force, as invoiced
    price = page.locator("#id_prices-0-price")
    assert price.input_value() == "0.99"
    assert page.locator("#id_prices-0-tier_simple").is_hidden()  # the unit model's fields alone
    assert page.locator("#id_platform_fee-amount").is_hidden()  # not included: its fields folded away

    price.fill("1.50")
    page.wait_for_selector("#preview-candidate:text-is('$15.00')")
    assert preview.locator("#preview-difference").inner_text() == "+$5.10"
    assert "Resolved conversation: $1.50 per outcome." in preview.inner_text()

    page.locator("#id_prices-0-model").select_option("complexity")  # another model shows its own fields
    assert page.locator("#id_prices-0-tier_simple").is_visible() and price.is_hidden()
    page.wait_for_selector("#contract-preview .preview-errors")  # tiers not priced yet: what to fix
    page.locator("#id_prices-0-model").select_option("unit")
    page.wait_for_selector("#preview-candidate:text-is('$15.00')")

    # A term and its renewal: its fields unfold once included, and the preview says it in words.
    assert page.locator("#id_term-starts").is_hidden()
    page.get_by_label("A fixed term, with its end and renewal").check()
    page.locator("#id_term-starts").fill("2026-05-01")
    page.locator("#id_term-months").fill("12")
    page.locator("#id_term-notice_days").fill("60")
    page.wait_for_selector("#contract-preview li:has-text('Contract term')")
    assert "unless notice is given by 2 Mar 2027" in preview.inner_text() or "has passed" in preview.inner_text()
    page.screenshot(path=str(SCREENSHOTS.joinpath("contract-form.png")), full_page=True)

    page.get_by_role("button", name="Save as a new version").click()
    page.wait_for_load_state("networkidle")
    assert "Contract version 2 saved." in page.content()
    saved = ContractVersion.objects.get(version=2).terms
    assert saved["prices"] == [{"outcome_type": RES, "model": "unit", "price": "1.50"}]
    assert saved["term"] == {"starts": "2026-05-01", "months": 12, "renewal": "auto", "renewal_months": 12,
                             "notice_days": 60}  # fmt: skip
    assert page.locator("#id_prices-0-price").input_value() == "1.50"  # the form starts from the new version
    assert errors == []
