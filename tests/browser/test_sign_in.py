"""Two-factor sign-in in a real browser: a vendor staff member's first sign-in sets up an
authenticator (reading the secret off the page, as a person types it into an app), then signs in
again with a code. Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from django_otp.oath import totp

from accounts.models import Role
from tests import factories
from tests.browser.site import open_menu

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "pw-Secret-123"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
        )
        yield browser
        browser.close()


def _password(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_staff_set_up_an_authenticator_at_first_sign_in_then_sign_in_with_codes(live_server, browser):
    factories.make_user(Role.VENDOR_SUPPORT, None, "sam")
    base = live_server.url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()

    _password(page, base)
    assert page.url == f"{base}/accounts/login/code/"
    assert page.get_by_role("heading", name="Set up two-factor sign-in").is_visible()
    assert page.get_by_alt_text("QR code of the secret for your authenticator app").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "sign-in-01-set-up-authenticator.png"), full_page=True)
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    page.get_by_label("Code from your authenticator app").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Confirm and sign in").click()
    page.wait_for_load_state()
    assert page.url == f"{base}/overview/"
    assert "Two-factor sign-in is set up." in page.content()

    open_menu(page, "you")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    _password(page, base)
    assert page.get_by_role("heading", name="Enter your code").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "sign-in-02-enter-code.png"), full_page=True)
    page.get_by_label("Code from your authenticator app").fill(f"{totp(key, drift=1):06d}")  # the next code
    page.get_by_role("button", name="Verify").click()
    page.wait_for_load_state()
    assert page.url == f"{base}/overview/"
