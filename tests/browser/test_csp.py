"""The pages under their Content-Security-Policy in a real browser: nothing refused, nothing broken.

Chromium reports every refusal as a ``securitypolicyviolation`` event; the test listens for them
from before each page's first script, and checks that what depends on script — Plotly's charts,
htmx's table, Swagger UI, Redoc — still draws, with no request leaving this server.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.ingestion import outcomes_settle
from billing.spend.services import spend_controls_set
from tests import factories
from tests.browser.conftest import CHROMIUM

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]

LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
  {directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber}));
"""


def _world():
    factories.make_outcome_type("resolved_conversation", "0.99")
    acme = factories.make_account("acme", name="Acme Support")
    now = timezone.now()
    factories.ingest(*(factories.event_payload(acme, f"evt-{i}", session_id=f"s-{i}") for i in range(30)), now=now)
    outcomes_settle(now=now + timezone.timedelta(days=4))
    spend_controls_set(account=acme, monthly_cap=Decimal("100.00"), monthly_cap_outcomes=None,
                       alert_thresholds=[80], at_cap="pause", changed_by="test")  # fmt: skip
    factories.make_user(Role.FINANCE_ADMIN, acme, "fiona")


@pytest.fixture
def page(live_server, browser):
    _world()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.errors = []
    page.outside = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on(
        "request",
        lambda r: None if r.url.startswith((live_server.url, "data:", "blob:")) else page.outside.append(r.url),
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("fiona")
    page.get_by_label("Password").fill("pw-Secret-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    page.base = live_server.url
    return page


def _visit(page, path: str, ready: str) -> list[dict]:
    page.goto(page.base + path)
    page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    return page.evaluate("window.__violations")


def test_portal_pages_run_under_the_policy_with_nothing_refused(page):
    assert _visit(page, "/account/acme/", "#chart-outcomes.drawn .main-svg") == []  # Plotly drew
    assert _visit(page, "/account/acme/events/", "table.audit a.event-link") == []
    page.get_by_label("Status").select_option("billable")  # htmx swaps the table in place
    page.wait_for_url("**status=billable")
    page.wait_for_function("() => !document.querySelector('#results [aria-busy=true]')")
    assert page.evaluate("window.__violations") == []
    assert _visit(page, "/account/acme/spend/", ".meter rect") == []
    width = page.locator(".meter rect").first.evaluate("r => r.getBoundingClientRect().width")
    track = page.locator(".meter").first.evaluate("m => m.getBoundingClientRect().width")
    assert 0 < width < track  # the bar shows the share of the cap, not all of it
    assert page.errors == []
    assert page.outside == []


def test_the_api_docs_work_offline_under_the_policy(page):
    assert _visit(page, "/api/docs/", ".swagger-ui .info .title") == []
    assert "OutcomePortal API" in page.locator(".swagger-ui .info .title").inner_text()
    violations = _visit(page, "/api/redoc/", "h1:has-text('OutcomePortal API')")
    # Redoc's footer shows Redocly's logo from the internet: refused, and Redoc hides it.
    assert [v["blocked"] for v in violations] == ["https://cdn.redoc.ly/redoc/logo-mini.svg"] or violations == []
    assert page.errors == []
    assert set(page.outside) <= {"https://cdn.redoc.ly/redoc/logo-mini.svg"}  # asked for, never fetched
