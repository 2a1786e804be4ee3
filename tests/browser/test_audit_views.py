"""The audit table in a browser (issue 16, point 3): a channel chosen from the list, a column hidden,
the view saved and opened again, the total said in words — with htmx, no console error and no
serious or critical axe-core violation, on the demo world."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from metering.demo import DEMO_PASSWORD
from tests.browser import site
from tests.browser.conftest import CHROMIUM

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db,  # creates the test database that demo_portal fills (conftest.py)
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def _settled(page) -> None:
    page.wait_for_function("() => !document.querySelector('#results[aria-busy=true], #results [aria-busy=true]')")
    page.wait_for_load_state("networkidle")


def _headers(page) -> list[str]:
    return [h.strip() for h in page.locator("table.audit thead th").all_text_contents()]


def _customer_admin(demo_portal, chromium):
    """A browser context signed in as the demo's customer admin: (context, page, console watcher)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    watcher = site.Watcher(page, demo_portal)
    site.sign_in(page, demo_portal, site.ROLES["customer-admin"], DEMO_PASSWORD)
    return context, page, watcher


def test_filter_hide_a_column_save_and_reopen_a_view(demo_portal, chromium, axe):
    from billing.audit.models import AuditView

    context, page, watcher = _customer_admin(demo_portal, chromium)
    page.goto(f"{demo_portal}/account/{site.ACCOUNT}/events/")
    count = page.locator("#results .count")
    assert re.fullmatch(r"[\d,]+ events in total · 50 shown", " ".join(count.inner_text().split()))

    # A channel, chosen from the account's values in words: htmx swaps the table, the URL follows.
    channel = page.locator("#f-channel")
    options = channel.locator("option").all_inner_texts()
    assert options[0] == "Any channel" and "Voice" in options
    channel.select_option(label="Voice")
    page.wait_for_url(re.compile(r"channel=voice"))
    _settled(page)
    said = " ".join(count.inner_text().split())
    assert re.fullmatch(r"[\d,]+ events? match(es)? these filters · \d+ shown", said), said
    assert set(page.locator("table.audit tbody td:nth-child(3)").all_inner_texts()) == {"Voice"}

    # Hide the Source and Hand-off columns.
    page.locator("details.view-menu > summary", has_text="Columns").click()
    page.get_by_role("checkbox", name="Source link").uncheck()
    page.get_by_role("checkbox", name="Hand-off").uncheck()
    page.get_by_role("button", name="Show these columns").click()
    page.wait_for_function(
        "() => !Array.from(document.querySelectorAll('table.audit th')).some(t => t.textContent.trim() === 'Source')"
    )
    _settled(page)
    assert "Source" not in _headers(page) and "Hand-off" not in _headers(page) and "Channel" in _headers(page)
    assert "channel=voice" in page.url

    # Save the view under a name.
    page.locator("details.view-menu > summary", has_text="Save this view").click()
    page.get_by_label("Name of the view").fill("Voice calls")
    page.get_by_role("button", name="Save view").click()
    saved_link = page.get_by_role("navigation", name="Your saved views").get_by_role("link", name="Voice calls")
    saved_link.wait_for()
    _settled(page)
    view = AuditView.objects.get(name="Voice calls")
    assert view.query == "channel=voice" and "source_url" not in view.columns and "human_handoff" not in view.columns

    # Elsewhere, then back through the saved view: the filters, the columns and the total return.
    page.goto(f"{demo_portal}/account/{site.ACCOUNT}/events/?status=billable")
    page.locator("#f-channel").wait_for()
    assert page.locator("#f-channel").input_value() == ""
    page.get_by_role("navigation", name="Your saved views").get_by_role("link", name="Voice calls").click()
    page.wait_for_url(re.compile(r"channel=voice"))
    _settled(page)
    assert page.locator("#f-channel").input_value() == "voice"
    assert page.locator("#f-status").input_value() == ""
    assert "Source" not in _headers(page) and "Hand-off" not in _headers(page)
    assert " ".join(count.inner_text().split()) == said
    assert page.get_by_role("link", name="Voice calls").get_attribute("aria-current") == "true"

    # A filter changed on the view's page keeps the view's columns.
    page.locator("#f-status").select_option("billable")
    page.wait_for_url(re.compile(r"status=billable"))
    _settled(page)
    assert "cols=" in page.url and "Source" not in _headers(page)

    expect = pytest.importorskip("playwright.sync_api").expect
    problems = watcher.take() + site.axe_violations(page, axe)
    # Each menu open (their controls are what axe has not seen yet); one open at a time.
    for menu in ("Columns", "Save this view"):
        page.locator("details.view-menu > summary", has_text=menu).click()
        # The other menu closes on the "toggle" event, dispatched after the click: expect() waits for
        # it (and fails after its timeout).
        expect(page.locator("details.view-menu[open]")).to_have_count(1)
        assert menu in page.locator("details.view-menu[open] > summary").inner_text()
        problems += site.axe_violations(page, axe)
    assert not problems, "\n".join(problems)
    context.close()


def test_a_rare_channel_stops_the_walk_says_so_and_looks_further_back(demo_portal, chromium, axe, monkeypatch):
    """A value few events have: each page looks at a bounded number of events (here 200), says where
    it stopped, and "Look further back" goes on from there (htmx, the URL follows)."""
    monkeypatch.setattr("billing.audit.table.SCAN_CAP", 200)  # the live server runs in this process
    context, page, watcher = _customer_admin(demo_portal, chromium)
    page.goto(f"{demo_portal}/account/{site.ACCOUNT}/events/?channel=fax")
    notice = page.locator("#results .scan-stop")
    said = " ".join(notice.inner_text().split())
    assert re.fullmatch(r"No matches among the 200 events before now, back to \d+ \w+ \d{4} \d\d:\d\d\. "
                        r"Look further back", said), said  # fmt: skip
    assert page.locator("#results .count").inner_text().startswith("0 ")
    problems = watcher.take()
    notice.get_by_role("link", name="Look further back").click()
    page.wait_for_url(re.compile(r"channel=fax&older="))
    _settled(page)
    assert "after the previous page" in page.locator("#results").inner_text()
    problems += watcher.take() + site.axe_violations(page, axe)  # axe last: its own styles trip the CSP
    assert not problems, "\n".join(problems)
    if os.environ.get("SCREENSHOTS_DIR"):
        page.screenshot(path=str(Path(os.environ["SCREENSHOTS_DIR"]) / "audit-walk-stopped.png"), full_page=True)
    context.close()
