"""The browser net (issue 16, point 6): every page of the navigation, for every role, in Debian's
headless Chromium at 1,280 px (a laptop) and 390 px (a phone).

Each role signs in as its demo user, reads its navigation (menus included), the Finance sections and
a few detail pages (a non-billable event, an invoice and one of its lines, a dispute, an outcome
type), and every page must show: no console error, no failed request, no serious or critical
axe-core violation, no document wider than the window, and no raw code or unformatted number in
its text (``tests/browser/site.py`` holds the page list and the checks; ``make screenshots`` photographs
the same pages). One small demo world (``seed_demo``, 3,000 events) serves the whole module.
"""

from __future__ import annotations

import os
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

CHECKED_WIDTHS = (1280, 390)

# What each role's navigation must at least lead to: a page missing here is a broken menu, not a
# page the net may skip.
EXPECTED = {
    "customer-admin": {
        "dashboard",
        "events",
        "what-counts",
        "spend",
        "invoices",
        "your-plan",
        "disputes",
        "people",
        "api-keys",
        "event",
        "invoice",
        "invoice-line",
        "dispute",
    },
    "finance-admin": {"dashboard", "events", "spend", "invoices", "your-plan", "disputes", "event", "invoice"},
    "viewer": {"dashboard", "events", "what-counts", "spend", "invoices", "disputes", "event", "invoice"},
    "vendor-support": {
        "overview",
        "dispute-queue",
        "catalogue",
        "plans",
        "receivables",
        "renewals",
        "deliveries",
        "dashboard",
        "events",
        "invoices",
        "event",
        "invoice",
        "dispute",
        "outcome-type",
    },
    "vendor-operator": {
        "overview",
        "dispute-queue",
        "catalogue",
        "plans",
        "finance",
        "staff",
        "receivables",
        "renewals",
        "deliveries",
        "api-keys",
        "people",
        "dashboard",
        "events",
        "finance-margin",
        "event",
        "invoice",
        "dispute",
        "outcome-type",
    },
    "vendor-finance": {
        "overview",
        "dispute-queue",
        "finance",
        "finance-attainment",
        "receivables",
        "renewals",
        "dashboard",
        "event",
        "invoice",
    },
}


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


# (side, path, width) already checked in full: the same page for another role of the same side gets
# the quick checks only (status, console, requests, width). Kept fast for CI: six roles, ~110 pages
# in two windows, one world and one browser.
CHECKED_IN_FULL: set[tuple[bool, str, int]] = set()


@pytest.mark.parametrize("role", list(site.ROLES))
def test_every_page_of_the_navigation_reads_well(demo_portal, chromium, axe, role):
    vendor = role in site.VENDOR_ROLES
    context = chromium.new_context(viewport={"width": CHECKED_WIDTHS[0], "height": site.WIDTHS[CHECKED_WIDTHS[0]]})
    page = context.new_page()
    watcher = site.Watcher(page, demo_portal)
    site.sign_in(page, demo_portal, site.ROLES[role], DEMO_PASSWORD)
    pages = site.site_map(page, demo_portal, role)
    names = {p.name for p in pages}
    assert EXPECTED[role] <= names, f"{role}: the navigation no longer leads to {sorted(EXPECTED[role] - names)}"
    problems = [f"while signing in and reading the navigation: {p}" for p in watcher.take()]

    for i, width in enumerate(CHECKED_WIDTHS):
        page.set_viewport_size({"width": width, "height": site.WIDTHS[width]})
        for site_page in pages:
            key = (vendor, site_page.path, width)
            full = key not in CHECKED_IN_FULL
            found = site.check(page, demo_portal, site_page, watcher, axe, wide=i == 0, full=full)
            CHECKED_IN_FULL.add(key)
            problems += [f"{site_page.name} at {width} px ({site_page.path}): {p}" for p in found]
    context.close()

    assert not problems, f"{role}, {len(pages)} pages:\n" + "\n".join(problems)
