"""The catalogue in a real browser: an operator publishes a criteria version for one account (the
scope chosen with htmx), sees it in the history with what changed; the customer then reads it on
"What counts" as the version in force, in its changelog; nothing refused by the CSP, no console error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from accounts.models import Role
from metering.models import SuccessCriteria
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


@pytest.fixture(autouse=True)
def _password_alone(settings):
    settings.OTP_REQUIRED_FOR_STAFF = False  # vendor staff sign in with the password (docs/security.md)


def _watch(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def test_an_operator_publishes_an_override_and_the_customer_sees_it_in_what_counts(live_server, browser):
    factories.make_outcome_type(required_verification_methods=["customer_confirmed", "inactivity_timeout"])
    acme = factories.make_account("acme", name="Acme Support")
    factories.make_account("globex", name="Globex")
    factories.make_user(Role.VENDOR_OPERATOR, None, "olga")
    factories.make_user(Role.CUSTOMER_ADMIN, acme, "alice")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors = _watch(page)
    _login(page, live_server.url, "olga")
    page.goto(f"{live_server.url}/overview/")
    open_menu(page, "Setup")
    page.get_by_role("link", name="Catalogue", exact=True).click()
    page.get_by_role("link", name="Resolved conversation").click()
    page.get_by_role("link", name="Publish a criteria version").click()

    # Choosing the account swaps the form (htmx) and pushes the URL.
    page.get_by_label("Definition of").select_option("acme")
    page.wait_for_url("**/criteria/new/?account=acme")
    page.get_by_text("Acme Support has no definition of its own yet").wait_for()
    page.get_by_label("Customer-recognised result").fill("a ticket Acme marks solved")
    page.get_by_label("Measurement window (hours)").fill("48")
    page.get_by_label("Accepted verification methods").fill("customer_confirmed, llm_verified")
    page.get_by_role("button", name="Publish for Acme Support").click()
    page.wait_for_load_state("networkidle")

    assert "Published resolved_conversation acme v1: Acme Support's definition of Resolved conversation." in (
        page.inner_text("main")
    )
    history = page.locator("table.history tbody tr").first
    assert "resolved_conversation acme v1" in history.inner_text()
    assert "48 hours" in history.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "catalogue-history.png"), full_page=True)
    stored = SuccessCriteria.objects.get(account=acme)
    assert (stored.version, stored.measurement_window_hours, stored.created_by) == (1, 48, "olga")
    assert errors == []
    context.close()

    # The customer: the version in force, and what changed, in plain words.
    customer = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = customer.new_page()
    errors = _watch(page)
    _login(page, live_server.url, "alice")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="What counts", exact=True).click()
    card = page.locator("article.term", has_text="Resolved conversation")
    assert "rule version resolved_conversation acme v1, in force since" in card.inner_text()
    assert "Your agreed definition" in card.inner_text()
    card.get_by_text("What changed — 2 versions of this definition").click()
    changelog = card.locator("details.changelog")
    changelog.get_by_text("The measurement window went from 72 hours to 48 hours.").wait_for()
    text = changelog.inner_text()
    assert "Your agreed definition replaced the product definition resolved_conversation v1:" in text
    assert "Customer-recognised result: now “a ticket Acme marks solved” (was “resolved conversation”)." in text
    assert (
        "Accepted verification methods: “Checked by a language model” added; “No reply before the timeout” removed"
        in text
    )
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "catalogue-what-counts.png"), full_page=True)
    assert "Catalogue" not in page.locator("nav.mainnav").inner_text()
    assert errors == []
    customer.close()
