"""In a real browser: a customer admin disputes two charges from the audit table; support resolves
the dispute from the queue (partial approval); the credit job runs; the customer sees the credit.

Headless Chromium from Debian (/usr/bin/chromium) through Playwright; screenshots go to
artifacts/screenshots/ (disputes-*.png).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from billing.invoices.models import CreditNote
from disputes.models import Dispute
from disputes.services import credits_issue
from tests.disputes.conftest import METRICS_NOW

pytestmark = [pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian's chromium is not installed")
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def authenticator_code(username: str) -> str:
    """What the user's authenticator app shows now: vendor staff sign in with a code too."""
    user = User.objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user).first() or TOTPDevice.objects.create(user=user, confirmed=True)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)  # each sign-in here is a new time step
    return f"{totp(device.bin_key):06d}"


def log_in(browser, live_server, username: str, *, staff: bool = False):
    page = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    code = authenticator_code(username) if staff else None
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw-Secret-123")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    if staff:
        assert page.url.endswith("/accounts/login/code/")
        page.fill("#id_code", code)
        page.click("button[type=submit]")
        page.wait_for_load_state()
    return page


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"disputes-{name}.png"), full_page=True)


def test_file_from_the_audit_table_and_resolve_from_the_queue(world, transactional_db, live_server, browser):
    # --- The customer admin: select two invoiced charges, dispute them ---
    alice = log_in(browser, live_server, "alice")
    alice.goto(f"{live_server.url}/account/acme/events/")
    alice.check("input[name=event][value='jun-0']")
    alice.check("input[name=event][value='jun-1']")
    shot(alice, "01-audit-table-selection")
    alice.click("button:has-text('Dispute selected')")
    alice.wait_for_url("**/disputes/new/**")
    assert alice.locator("text=2 can be disputed").count() == 1 or "2</strong> can be disputed" in alice.content()
    alice.select_option("#id_reason_code", "human_handoff")
    alice.fill("#id_message", "Both conversations were finished by our own agent, not the AI.")
    shot(alice, "02-file-dispute")
    alice.click("button:has-text('File dispute')")
    alice.wait_for_url("**/disputes/*/")
    dispute = Dispute.objects.get()
    assert alice.url.endswith(f"/account/acme/disputes/{dispute.pk}/")
    assert "filed. Support answers by" in alice.content()
    shot(alice, "03-dispute-filed-customer")
    assert [world.event(e).shown_status for e in ("jun-0", "jun-1")] == ["disputed", "disputed"]

    # --- Support: the queue, the evidence, a partial approval ---
    sam = log_in(browser, live_server, "sam", staff=True)
    sam.goto(f"{live_server.url}/disputes/queue/")
    shot(sam, "04-support-queue")
    sam.click(f"a.event-link:has-text('#{dispute.pk}')")
    sam.wait_for_url(f"**/disputes/{dispute.pk}/")
    assert sam.locator("details.evidence").count() == 2
    sam.check("input[name=decision][value=partially_approved]")
    sam.uncheck("input[name=approve][value='jun-1']")
    sam.fill("#id_note", "jun-0 was handed to your agent; jun-1 was resolved by the AI (confirmed by the customer).")
    shot(sam, "05-support-resolve")
    sam.click("button:has-text('Record decision')")
    sam.wait_for_url("**/disputes/queue/")
    assert "partially approved; the customer has been told" in sam.content()
    shot(sam, "06-queue-after-resolution")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.credit_state) == ("partially_approved", "pending")

    # --- The credit job, then what the customer sees ---
    credits_issue()
    note = CreditNote.objects.get()
    assert (note.amount, note.invoice_id) == (Decimal("0.9900"), world.june_invoice_a.pk)
    alice.goto(f"{live_server.url}/account/acme/disputes/{dispute.pk}/")
    assert "CN-000001" in alice.content()
    shot(alice, "07-dispute-credited-customer")
    alice.goto(f"{live_server.url}/account/acme/disputes/")
    shot(alice, "08-customer-history")
    alice.goto(f"{live_server.url}/account/acme/events/jun-0")
    shot(alice, "09-event-detail-panel")


def test_the_queue_by_sla_risk_and_the_trust_metrics(history, transactional_db, live_server, browser, monkeypatch):
    """The metrics fixture (five disputes, two accounts) seen on July 8, 12:00: one breached, one open."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: METRICS_NOW)
    sam = log_in(browser, live_server, "sam", staff=True)
    sam.goto(f"{live_server.url}/disputes/queue/")
    rows = sam.locator("#results tbody tr")
    assert rows.count() == 2
    assert "SLA breached" in rows.nth(0).inner_text() and "Within SLA" in rows.nth(1).inner_text()
    shot(sam, "11-queue-sla-risk")
    sam.goto(f"{live_server.url}/disputes/trust/")
    assert "63.6%" in sam.content()
    shot(sam, "10-trust-metrics")
    sam.goto(f"{live_server.url}/overview/")
    assert "Dispute rate above 3.0% (last 30 days)" in sam.content()
    shot(sam, "12-overview-warning")
