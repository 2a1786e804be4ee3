"""The audit portal in a real browser: Debian's headless Chromium driven by Playwright.

A customer admin logs in, lands on the dashboard, filters the audit table, pages forward and
back (buttons and the browser's Back), opens an event, exports the CSV; a user of another
account fails to reach that event. Screenshots of the dashboard, table and detail go to
``artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import Role
from billing.ingestion import outcomes_settle, signal_record
from metering.models import Event
from tests import factories
from tests.browser.conftest import CHROMIUM

# Playwright's sync API runs an event loop in this thread; the ORM calls in the test body are
# ordinary synchronous calls made while it is idle.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "pw-Secret-123"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


def _world():
    """Two accounts; A with three weeks of varied outcomes, B with a few of its own."""
    factories.make_outcome_type("resolved_conversation", "0.99")
    factories.make_outcome_type("qualified_lead", "2.50", measurement_window_hours=24, one_per_session=False)
    acme = factories.make_account("acme", name="Acme Support", timezone_name="America/New_York")
    globex = factories.make_account("globex", name="Globex")
    now = timezone.now()
    channels, workflows = ["chat", "chat", "email", "voice"], ["support.refund", "support.order_status", "sales.demo"]
    failures = ["abandoned", "greeting_only", "workflow_failed", "unanswered_question"]
    payloads = []
    for i in range(420):
        fields = {
            "channel": channels[i % 4],
            "workflow": workflows[i % 3],
            "session_id": f"sess-{i - 1 if i % 12 == 1 else i}",  # now and then a second outcome of a session
            "verification_method": ["customer_confirmed", "llm_verified", "inactivity_timeout"][i % 3],
            "source_url": f"https://helpdesk.example.com/tickets/{10_000 + i}",
            "cost_amount": "0.777777",
            "attributes": {"ticket": 10_000 + i, "language": "en", "turns": 3 + i % 7},
        }
        if i % 9 == 4:
            fields["failure_reason"] = failures[i % 4]
        elif i % 11 == 6:
            fields["human_handoff"] = True
        elif i % 23 == 8:
            fields["sandbox"] = True
        elif i % 13 == 5:
            fields["success_criteria_met"] = False
        outcome_type = "qualified_lead" if i % 7 == 3 else "resolved_conversation"
        if outcome_type == "qualified_lead":
            fields.pop("session_id")
        occurred = now - timedelta(minutes=50 * i + 7)
        payloads.append(
            factories.event_payload(acme, f"acme-{i:05d}", occurred_at=occurred, outcome_type=outcome_type, **fields)
        )
    for chunk in range(0, len(payloads), 200):
        factories.ingest(*payloads[chunk : chunk + 200], now=now)
    factories.ingest(*[factories.event_payload(globex, f"globex-{i}") for i in range(5)], now=now)
    reopened = Event.objects.filter(account=acme, status="pending").order_by("occurred_at").first()
    signal_record(event=reopened, type="reopened", occurred_at=now - timedelta(minutes=3), note="Customer wrote back")
    outcomes_settle(now=now)
    factories.make_user(Role.CUSTOMER_ADMIN, acme, "alice")
    factories.make_user(Role.CUSTOMER_ADMIN, globex, "bob")
    return acme, globex


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _event_ids(page) -> list[str]:
    return page.locator("a.event-link").all_inner_texts()


def test_customer_admin_audits_filters_pages_opens_and_exports(live_server, browser):
    _world()
    base = live_server.url
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    _login(page, base, "alice")

    # Landing page: the usage dashboard, with its charts drawn.
    assert page.url == f"{base}/account/acme/"
    assert page.get_by_role("heading", name="Estimated invoice").is_visible()
    assert page.get_by_text("Acme Support").first.is_visible()
    assert page.get_by_text("Current period").is_visible()
    page.wait_for_selector("#chart-outcomes.drawn .main-svg")
    page.wait_for_selector("#chart-spend.drawn .main-svg")
    _shot(page, "dashboard")

    # The audit table, through the navigation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Events").click()
    page.wait_for_load_state("networkidle")
    assert page.url == f"{base}/account/acme/events/"
    assert page.get_by_text("420 events in total").is_visible()
    first_page = _event_ids(page)
    assert len(first_page) == 50 and first_page[0] == "acme-00000"
    _shot(page, "events")

    # Filter: htmx swaps the table in place and the URL follows.
    page.get_by_label("Status").select_option("non_billable")
    page.wait_for_url(re.compile(r"status=non_billable"))
    page.wait_for_function("() => !document.querySelector('#results [aria-busy=true]')")
    page.wait_for_selector("#results .count:has-text('match these filters')")
    expected = list(
        Event.objects.filter(account__external_id="acme", status="non_billable")
        .order_by("-occurred_at", "-id")
        .values_list("event_id", flat=True)
    )
    assert page.get_by_text(f"{len(expected)} events match these filters").is_visible()
    badges = page.locator("table.audit tbody .badge").all_inner_texts()
    assert badges and set(badges) == {"Not billable"}
    filtered_first = _event_ids(page)
    assert filtered_first == expected[:50]

    # Page forward, then back with the pager, then with the browser's Back button.
    page.get_by_role("navigation", name="Pages, top").get_by_role("link", name="Older ›").click()
    page.wait_for_url(re.compile(r"older="))
    page.wait_for_selector(f"a.event-link:has-text('{expected[50]}')")
    assert _event_ids(page) == expected[50:100]
    assert "status=non_billable" in page.url
    page.get_by_role("navigation", name="Pages, top").get_by_role("link", name="‹ Newer").click()
    page.wait_for_url(re.compile(r"newer=|status=non_billable$"))
    page.wait_for_selector(f"a.event-link:has-text('{expected[0]}')")
    assert _event_ids(page) == expected[:50]
    page.go_back()
    page.wait_for_url(re.compile(r"older="))
    page.wait_for_selector(f"a.event-link:has-text('{expected[50]}')")
    assert _event_ids(page) == expected[50:100]
    assert page.get_by_label("Status").input_value() == "non_billable"  # the form follows the URL
    page.go_back()
    page.wait_for_selector(f"a.event-link:has-text('{expected[0]}')")

    # Open an event: the decision explained criterion by criterion.
    target = expected[0]
    page.get_by_role("link", name=target, exact=True).click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", name="Why this was not billable").is_visible()
    event = Event.objects.select_related("criteria").get(account__external_id="acme", event_id=target)
    assert page.get_by_text(event.criteria.label).first.is_visible()
    assert page.get_by_role("heading", name="Timeline").is_visible()
    assert page.get_by_role("heading", name="Think this is wrong?").is_visible()
    assert "0.777777" not in page.content()
    _shot(page, "detail")

    # Export exactly the filtered rows.
    page.go_back()
    page.wait_for_selector(f"a.event-link:has-text('{expected[0]}')")
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Export CSV")).click()
    download = download_info.value
    assert download.suggested_filename.startswith("acme-events-") and download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [r["event_id"] for r in rows] == expected
    assert {r["status"] for r in rows} == {"non_billable"}
    assert "cost_amount" not in rows[0] and all("0.777777" not in ",".join(r.values()) for r in rows)
    context.close()


def test_another_accounts_user_cannot_reach_the_event(live_server, browser):
    _world()
    base = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    _login(page, base, "bob")
    assert page.url == f"{base}/account/globex/"
    response = page.goto(f"{base}/account/acme/events/acme-00001")
    assert response.status == 404
    assert page.get_by_role("heading", name="There is nothing here").is_visible()
    assert "acme-00001" not in page.locator("main").inner_text()
    response = page.goto(f"{base}/account/acme/events/")
    assert response.status == 404
    response = page.goto(f"{base}/account/acme/events.csv")
    assert response.status == 404
    _shot(page, "not-found")
    context.close()
