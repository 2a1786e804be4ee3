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
from tests import factories
from tests.browser.conftest import CHROMIUM
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
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state("networkidle")
    assert "Globex is churned from 2026-03-01." in page.content()
    assert AccountLifecycleChange.objects.get().status == "churned"
