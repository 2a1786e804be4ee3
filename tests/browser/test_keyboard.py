"""The main flows with the keyboard alone (issue 16, point 4), in Debian's headless Chromium.

Each flow is done the way someone who cannot use a mouse does it: Tab and Shift+Tab to move, Enter
and Space to act, arrow keys and typing to choose — no click anywhere. Locators only *read* where the
focus is. At every stop of the focus the flow checks that it can be seen (the focused element has an
outline or a box shadow of its own) and that the control has an accessible name (Chromium's own
accessibility tree says so), and at the end that the flow did what it set out to do, on the page and
in the database:

* a customer admin filters the Events table by type, status and dates and opens an event;
* a customer admin files a dispute on an event (ticks it in the table, "Dispute selected");
* vendor support resolves the dispute at the top of the queue;
* a finance admin sets a monthly cap on the Spend page.

One small demo world (``demo_portal``) serves the module; the flows change different rows of it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Account
from billing.ledger.selectors import shown_status_q
from billing.spend.models import SpendControl
from disputes.models import Dispute
from disputes.selectors import event_refusals
from metering.demo import DEMO_PASSWORD
from metering.models import Event
from outcomeportal.core import formatting
from tests.browser.conftest import CHROMIUM

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db,  # creates the test database that demo_portal fills (conftest.py)
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]

# What the focused element looks like: its own outline or box shadow (the portal draws a 3 px ring
# on :focus-visible), and whether the browser thinks the focus came from the keyboard.
_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  const transparent = c => c === 'transparent' || /rgba\\(.*,\\s*0\\)$/.test(c);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 &&
    !transparent(style.outlineColor);
  const shadow = style.boxShadow && style.boxShadow !== 'none';
  const box = el.getBoundingClientRect();
  const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.getAttribute('type') ? '[type=' + el.getAttribute('type') + ']' : '');
  return {what: name, seen: outline || shadow, sized: box.width > 0 && box.height > 0,
          text: (el.innerText || el.value || '').replace(/\\s+/g, ' ').trim().slice(0, 60)};
}"""


@dataclass
class Stop:
    """One place the focus stopped at."""

    what: str  # tag#id[type]
    role: str
    name: str
    seen: bool


@dataclass
class Keyboard:
    """The page driven by keys alone; every stop of the focus is checked and kept."""

    page: object
    cdp: object
    stops: list[Stop] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def focused(self) -> Stop | None:
        state = self.page.evaluate(_FOCUSED)
        if state is None:
            return None
        role, name = self._accessible()
        stop = Stop(state["what"], role, name, state["seen"] and state["sized"])
        where = f"{stop.what} ({role} “{name or state['text']}”) on {self.page.url}"
        if not stop.seen:
            self._problem(f"focus not visible: {where}")
        if not name:
            self._problem(f"no accessible name: {where}")
        return stop

    def _problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def _accessible(self) -> tuple[str, str]:
        """The focused element's role and accessible name, as Chromium computes them."""
        found = self.cdp.send("Runtime.evaluate", {"expression": "document.activeElement"})
        tree = self.cdp.send(
            "Accessibility.getPartialAXTree", {"objectId": found["result"]["objectId"], "fetchRelatives": False}
        )
        node = tree["nodes"][0]
        return str(node.get("role", {}).get("value", "")), str(node.get("name", {}).get("value", "")).strip()

    def press(self, key: str) -> Stop | None:
        self.page.keyboard.press(key)
        stop = self.focused()
        if stop is not None:
            self.stops.append(stop)
        return stop

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def tab_to(self, role: str, name: str | re.Pattern, *, back: bool = False, limit: int = 120) -> Stop:
        """Tab (Shift+Tab when ``back``) until a control of ``role`` named ``name`` has the focus."""
        current = self.focused()
        for _ in range(limit):
            if current is not None and current.role == role and _matches(current.name, name):
                return current
            current = self.press("Shift+Tab" if back else "Tab")
        raise AssertionError(f"{limit} presses of Tab did not reach the {role} “{name}” on {self.page.url}")

    def follow(self, key: str = "Enter") -> None:
        """Press the key on a link or a submit button and wait for the page it leads to."""
        with self.page.expect_navigation():
            self.page.keyboard.press(key)
        self.page.wait_for_load_state("load")


def _matches(value: str, wanted: str | re.Pattern) -> bool:
    return bool(wanted.search(value)) if isinstance(wanted, re.Pattern) else value == wanted


@pytest.fixture
def keys(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield Keyboard(page, context.new_cdp_session(page))
    context.close()
    assert not errors, errors


def sign_in(keys: Keyboard, base: str, username: str) -> None:
    """The sign-in form, by keyboard: the username field has the focus on arrival."""
    keys.page.goto(f"{base}/accounts/login/")
    keys.tab_to("textbox", "Username")
    keys.type(username)
    keys.tab_to("textbox", "Password")
    keys.type(DEMO_PASSWORD)
    keys.follow("Enter")
    assert "/accounts/login/" not in keys.page.url, f"{username} could not sign in"


def wait_for_results(page) -> None:
    """The htmx swap of a filtered table is over."""
    page.wait_for_function("() => !document.querySelector('#results[aria-busy=true]')")


def assert_keyboard_fine(keys: Keyboard) -> None:
    assert keys.stops, "the focus never moved"
    assert not keys.problems, "\n".join(keys.problems)


# --- The skip link --------------------------------------------------------------------------------


def test_the_first_tab_offers_a_visible_skip_link_past_the_navigation(demo_portal, keys):
    sign_in(keys, demo_portal, "acme-admin")
    skip = keys.press("Tab")
    assert (skip.role, skip.name) == ("link", "Skip to content")
    box = keys.page.get_by_role("link", name="Skip to content").bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0 and box["width"] > 0  # on screen once focused
    keys.page.keyboard.press("Enter")
    assert keys.page.evaluate("document.activeElement.id") == "main"
    after = keys.press("Tab")  # the first control of the page, not the navigation
    assert keys.page.evaluate("document.querySelector('main').contains(document.activeElement)"), after
    assert_keyboard_fine(keys)


# --- (a) A customer admin filters the Events table and opens an event ---------------------------------


def test_a_customer_admin_filters_the_events_and_opens_one_by_keyboard(demo_portal, keys):
    acme = Account.objects.get(external_id="acme")
    zone = ZoneInfo(acme.timezone)
    today = timezone.now().astimezone(zone).date()
    first, last = today - timedelta(days=30), today - timedelta(days=2)

    sign_in(keys, demo_portal, "acme-admin")
    keys.tab_to("link", "Events")
    keys.follow()
    assert keys.page.url.endswith("/account/acme/events/")

    # The type and the status: typing a letter picks the first option it begins (the select stays
    # closed, and its change reaches htmx, which swaps the table in place).
    keys.tab_to("combobox", "Outcome type")
    keys.type("R")
    keys.page.wait_for_url(re.compile(r"type=resolved_conversation"))
    wait_for_results(keys.page)
    keys.tab_to("combobox", "Status")
    keys.type("In")
    keys.page.wait_for_url(re.compile(r"status=invoiced"))
    wait_for_results(keys.page)

    # The dates, typed in their fields (month, day, year in an en-US browser); Shift+Tab goes back
    # from the status to them.
    keys.tab_to("Date", "From", back=True)
    while keys.page.evaluate("document.activeElement.id") == "f-from":
        keys.press("Shift+Tab")  # to the field's first part, the month
    keys.press("Tab")
    keys.type(first.strftime("%m%d%Y"))
    keys.tab_to("Date", "To")
    keys.type(last.strftime("%m%d%Y"))
    keys.page.wait_for_url(re.compile(rf"to={last.isoformat()}"))
    wait_for_results(keys.page)
    assert f"from={first.isoformat()}" in keys.page.url

    # The account's local days, both ends included.
    start = datetime.combine(first, time.min, tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=zone)
    expected = list(
        Event.objects.filter(
            shown_status_q("invoiced", account_id=acme.pk),
            account=acme,
            outcome_type__code="resolved_conversation",
            occurred_at__gte=start,
            occurred_at__lt=end,
        )
        .order_by("-occurred_at", "-id")
        .values_list("event_id", flat=True)
    )
    assert expected, "the demo world has no such events"
    n = len(expected)
    assert keys.page.locator("#results .count strong").inner_text() == formatting.count(n)
    assert "match these filters" in keys.page.locator("#results .count").inner_text()

    # The first row's event: Tab past the table's controls to its link, Enter.
    target = keys.tab_to("link", re.compile(r"^acme-"))
    assert target.name == expected[0]
    keys.follow()
    assert keys.page.url.endswith(f"/account/acme/events/{target.name}")
    assert keys.page.get_by_role("heading", name=target.name, exact=True).is_visible()
    assert keys.page.locator(".verdict .badge").first.inner_text() == "Invoiced"
    assert_keyboard_fine(keys)


# --- (b) A customer admin files a dispute on an event ---------------------------------------------------


def _disputable_event(account) -> str:
    """The newest event of the account that can be disputed (charged, in no dispute yet)."""
    events = list(
        Event.objects.filter(account=account, window_ends_at__lt=timezone.now()).order_by("-occurred_at")[:400]
    )
    refused = event_refusals(events)
    for event in events:
        if event.pk not in refused:
            return event.event_id
    raise AssertionError("the demo world has no event left to dispute")


def test_a_customer_admin_files_a_dispute_by_keyboard(demo_portal, keys):
    acme = Account.objects.get(external_id="acme")
    event_id = _disputable_event(acme)
    before = set(Dispute.objects.filter(account=acme).values_list("pk", flat=True))

    sign_in(keys, demo_portal, "acme-admin")
    keys.tab_to("link", "Events")
    keys.follow()
    # The event, by its ID: typed in the search field, Enter applies the filter.
    keys.tab_to("searchbox", "Event or session ID")
    keys.type(event_id)
    keys.page.keyboard.press("Enter")
    keys.page.wait_for_url(re.compile(rf"q={event_id}"))
    wait_for_results(keys.page)
    assert keys.page.locator("a.event-link").all_inner_texts() == [event_id]

    # Tick its row with Space, go back up to "Dispute selected" with Shift+Tab, Enter.
    keys.tab_to("checkbox", f"Select {event_id}")
    keys.press("Space")
    assert keys.page.get_by_role("checkbox", name=f"Select {event_id}").is_checked()
    keys.tab_to("button", "Dispute selected", back=True)
    keys.follow()
    assert "/disputes/new/" in keys.page.url

    # The reason (a select: arrow keys move through its options), the message, File dispute.
    reason = keys.tab_to("combobox", "Why is this charge wrong?")
    assert reason.what == "select#id_reason_code"
    keys.press("ArrowDown")
    chosen = keys.page.locator("#id_reason_code").input_value()
    keys.tab_to("textbox", "Tell support what happened")
    keys.type("The customer wrote back the next day: the problem was still there.")
    keys.tab_to("button", "File dispute")
    keys.follow()

    (new,) = set(Dispute.objects.filter(account=acme).values_list("pk", flat=True)) - before
    dispute = Dispute.objects.get(pk=new)
    assert keys.page.url.endswith(f"/account/acme/disputes/{new}/")
    assert keys.page.get_by_text(f"Dispute #{new} filed.").is_visible()
    assert (dispute.status, dispute.reason_code) == ("open", chosen)
    assert list(dispute.items.values_list("event__event_id", flat=True)) == [event_id]
    assert dispute.message == "The customer wrote back the next day: the problem was still there."
    assert_keyboard_fine(keys)


# --- (c) Vendor support resolves a dispute from the queue ------------------------------------------------


def test_vendor_support_resolves_the_first_dispute_of_the_queue_by_keyboard(demo_portal, keys):
    sign_in(keys, demo_portal, "vendor-support")
    keys.tab_to("link", "Dispute queue")
    keys.follow()
    assert keys.page.url.endswith("/disputes/queue/")

    # The most urgent dispute comes first: its link is the first "#N" of the table.
    first = keys.tab_to("link", re.compile(r"^#\d+$"))
    pk = int(first.name.removeprefix("#"))
    assert Dispute.objects.get(pk=pk).status == "open"
    keys.follow()
    assert keys.page.url.endswith(f"/disputes/{pk}/")

    # The decision: Tab into the radio group, arrow keys choose in it; a note; Record decision.
    keys.tab_to("radio", re.compile(r"^Approve"))
    keys.press("ArrowDown")  # Partially approve
    keys.press("ArrowDown")  # Reject — the charges stand
    assert keys.page.get_by_role("radio", name=re.compile(r"^Reject")).is_checked()
    keys.tab_to("textbox", "Note to the customer")
    keys.type("The customer confirmed the fix in the survey; the charge stands.")
    keys.tab_to("button", "Record decision")
    keys.follow()

    dispute = Dispute.objects.get(pk=pk)
    assert (dispute.status, dispute.resolution_note) == (
        "rejected",
        "The customer confirmed the fix in the survey; the charge stands.",
    )
    # Back on the queue, which says so; the dispute is no longer among the open ones.
    assert keys.page.url.endswith("/disputes/queue/")
    assert keys.page.locator("ul.messages").get_by_text(f"Dispute #{pk} rejected").is_visible()
    assert f"#{pk}" not in keys.page.locator("#results a.event-link").all_inner_texts()
    assert_keyboard_fine(keys)
    # Its page reads as a rejection without a credit, not as an amount credited.
    keys.page.goto(f"{demo_portal}/account/{dispute.account.external_id}/disputes/{pk}/")
    assert keys.page.locator(".verdict .verdict-amount").inner_text() == "No credit"


# --- (d) A finance admin sets a spend cap --------------------------------------------------------------


def test_a_finance_admin_sets_a_spend_cap_by_keyboard(demo_portal, keys):
    sign_in(keys, demo_portal, "acme-finance")
    keys.tab_to("link", "Spend")
    keys.follow()
    assert keys.page.url.endswith("/account/acme/spend/")

    keys.tab_to("textbox", "Monthly cap (money)")
    keys.page.keyboard.press("Control+A")
    keys.type("1250")
    keys.tab_to("textbox", "Alert thresholds (% of the cap)")
    keys.page.keyboard.press("Control+A")
    keys.type("50, 90")
    # At the cap: Tab reaches the checked radio of the group, arrow keys move the choice.
    at_cap = keys.tab_to("radio", re.compile(r"."))
    checked = keys.page.locator("input[name=at_cap]:checked").input_value()
    keys.press("ArrowDown")
    chosen = keys.page.locator("input[name=at_cap]:checked").input_value()
    assert chosen != checked, at_cap
    keys.tab_to("button", "Save controls")
    keys.follow()

    control = SpendControl.objects.get(account__external_id="acme")
    assert (control.monthly_cap, control.alert_thresholds, control.at_cap) == (Decimal("1250"), [50, 90], chosen)
    assert keys.page.locator(".kpi:has(h2:text-is('Cap')) .value").inner_text() == "$1,250.00"
    assert_keyboard_fine(keys)
