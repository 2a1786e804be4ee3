"""``make screenshots``: a full-page screenshot of every page, for every role, at 1,280, 1,440 and
390 px, in ``artifacts/screenshots/<role>/<page>-<width>.png`` — the pages and the world of the
browser net (tests/browser/site.py, the ``demo_portal`` fixture), to look at rather than to assert.

Run through pytest, which builds the test database and the demo world: ``pytest
tests/browser/screenshots.py`` (the name keeps it out of the ordinary test run). ``SCREENSHOT_ROLES``
and ``SCREENSHOT_WIDTHS`` (comma-separated) narrow it down.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metering.demo import DEMO_PASSWORD
from tests.browser import site
from tests.browser.conftest import CHROMIUM

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

OUT = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ROLES = [r for r in os.environ.get("SCREENSHOT_ROLES", ",".join(site.ROLES)).split(",") if r]
WIDTHS = [int(w) for w in os.environ.get("SCREENSHOT_WIDTHS", ",".join(map(str, site.WIDTHS))).split(",") if w]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db,  # creates the test database that demo_portal fills (conftest.py)
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.mark.parametrize("role", ROLES)
def test_screenshots_of_every_page(demo_portal, chromium, role):
    context = chromium.new_context(viewport={"width": WIDTHS[0], "height": site.WIDTHS[WIDTHS[0]]})
    page = context.new_page()
    site.sign_in(page, demo_portal, site.ROLES[role], DEMO_PASSWORD)
    pages = site.site_map(page, demo_portal, role)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": site.WIDTHS[width]})
        for site_page in pages:
            site.photograph(page, demo_portal, site_page, OUT / role / f"{site_page.name}-{width}.png")
    context.close()
    print(f"{role}: {len(pages)} pages × {len(WIDTHS)} widths in {OUT / role}")
