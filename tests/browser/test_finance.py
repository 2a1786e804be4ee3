"""The finance area in a real browser: vendor finance opens attainment and margin (charts drawn from
the vendored Plotly, no console error), changes the segments; an operator churns an account."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import AccountLifecycleChange, Role
from billing.ingestion import outcomes_settle
from billing.services import contract_version_create, invoice_finalize
from outcomeportal.core.periods import period_add, period_at, period_bounds
from tests import factories
from tests.browser.conftest import CHROMIUM
from tests.browser.site import open_menu
from tests.browser.test_payments import SCREENSHOTS
from tests.browser.test_portal import _login

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _world() -> str:
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme Support", tier="enterprise")
    globex = factories.make_account("globex", name="Globex", tier="smb")
    now = timezone.now()
    payloads = []
    for account in (acme, globex):
        for i in range(60):
            fields = {"cost_amount": "0.20"}
            if i % 4 == 1:
                fields["failure_reason"] = "abandoned"
            at = now - timedelta(days=1 + i)
            payloads.append(factories.event_payload(account, f"{account.external_id}-{i}", occurred_at=at, **fields))
    factories.ingest(*payloads, now=now)
    outcomes_settle(now=now)
    factories.make_user(Role.VENDOR_FINANCE, None, "ana")
    factories.make_user(Role.VENDOR_OPERATOR, None, "olga")
    return f"{now:%Y-%m}"


@pytest.fixture(autouse=True)
def _password_alone(settings):
    settings.OTP_REQUIRED_FOR_STAFF = False  # vendor staff sign in with the password (docs/security.md)


def test_vendor_finance_reads_attainment_and_margin(live_server, browser):
    period = _world()
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_server.url, "ana")
    page.goto(f"{live_server.url}/overview/")
    open_menu(page, "Money")
    page.get_by_role("link", name="Finance", exact=True).click()
    page.get_by_role("link", name="Attainment", exact=True).click()
    page.get_by_label("Segments", exact=True).select_option("account")
    page.get_by_label("Last month", exact=True).fill(period)
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#chart-attainment.drawn")
    assert page.locator("table.attainment tbody tr").count() == 2  # acme, globex
    page.get_by_role("link", name="Margin", exact=True).click()
    page.get_by_label("By", exact=True).select_option("account")
    page.get_by_label("Last month", exact=True).fill(period)
    page.get_by_role("button", name="Show").click()
    page.wait_for_selector("#chart-margin.drawn")
    assert page.locator("table.margin tbody tr").count() == 2
    assert errors == []


def test_an_operator_churns_an_account(live_server, browser):
    _world()
    page = browser.new_context().new_page()
    _login(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/finance/accounts/")
    page.get_by_role("link", name="Globex").click()
    page.locator("#id_status").select_option("churned")
    page.locator("#id_effective_on").fill("2026-03-01")
    page.get_by_role("button", name="Save status").click()
    page.wait_for_load_state("networkidle")
    assert "Globex is churned from 2026-03-01." in page.content()
    assert AccountLifecycleChange.objects.get().status == "churned"


def test_vendor_finance_reprices_last_month_under_a_changed_price(live_server, browser):
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme Support")
    contract_version_create(
        account=acme,
        document={"effective_from": "2026-01-01", "prices": [{"outcome_type": "resolved_conversation",
                                                              "model": "unit", "price": "1.00"}]},
    )  # fmt: skip
    now = timezone.now()
    last = period_add(period_at(now, "UTC"), -1)
    start, _ = period_bounds(last, "UTC")
    factories.ingest(*(factories.event_payload(acme, f"e-{i}", occurred_at=start + timedelta(days=2, minutes=i))
                       for i in range(8)), now=start + timedelta(days=2, hours=1))  # fmt: skip
    outcomes_settle(now=now)
    invoice_finalize(account=acme, period=last, now=now)
    factories.make_user(Role.VENDOR_FINANCE, None, "ana")

    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    _login(page, live_server.url, "ana")
    page.goto(f"{live_server.url}/finance/")
    page.get_by_role("link", name="What-if", exact=True).click()
    page.get_by_label("Account:", exact=True).select_option("acme")
    page.get_by_role("button", name="Reprice").click()
    page.wait_for_selector("#chart-whatif.drawn")
    assert page.locator("table.whatif tbody tr").count() == 1  # last month, as invoiced: no difference
    assert page.locator("table.whatif tbody td").nth(4).inner_text() == "$0.00"
    editor = page.get_by_label("Candidate contract:", exact=True)
    editor.fill(editor.input_value().replace('"1.00"', '"1.25"'))
    page.get_by_role("button", name="Reprice").click()
    page.wait_for_selector("#chart-whatif.drawn")
    cells = page.locator("table.whatif tbody td")
    assert [cells.nth(i).inner_text() for i in (2, 3, 4)] == ["$8.00", "$10.00", "+$2.00"]
    page.screenshot(path=str(SCREENSHOTS / "finance-whatif.png"), full_page=True)
    assert errors == []
