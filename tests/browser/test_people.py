"""Inviting a user in a real browser: a customer admin invites a colleague from the People page
(htmx), the colleague opens the emailed link in their own browser, chooses a username and a
password, and signs in; the admin then sees them on the page and changes their role. Screenshots
go to ``$SCREENSHOTS_DIR`` (default: ``outcomeportal-screenshots`` in the temporary folder).
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone
from django.utils.module_loading import import_string

from accounts import people
from accounts.models import Invitation, Role, User
from tests import factories
from tests.browser.conftest import CHROMIUM
from tests.browser.site import open_menu

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "outcomeportal-screenshots")
PASSWORD = "pw-Secret-123"
NEW_PASSWORD = "Correct-Horse-41"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture
def emails_inline(monkeypatch):
    """The worker's email tasks run in the server's thread, into the locmem outbox."""
    monkeypatch.setattr("accounts.people.async_task", lambda path, *args: import_string(path)(*args))
    mail.outbox = []
    return mail.outbox


def _shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"people-{name}.png"), full_page=True)


def test_a_customer_admin_invites_a_user_who_joins_and_signs_in(live_server, browser, emails_inline):
    acme = factories.make_account("acme", name="Acme Support")
    factories.make_user(Role.CUSTOMER_ADMIN, acme, "alice")
    factories.make_user(Role.VIEWER, acme, "victor")
    base = live_server.url

    admin = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    admin.goto(f"{base}/accounts/login/")
    admin.get_by_label("Username").fill("alice")
    admin.get_by_label("Password").fill(PASSWORD)
    admin.get_by_role("button", name="Log in").click()
    admin.wait_for_load_state()
    open_menu(admin, "Settings")
    admin.get_by_role("link", name="People").click()
    admin.wait_for_load_state()
    assert admin.url == f"{base}/account/acme/people/"
    _shot(admin, "01-page")

    admin.get_by_label("Email address").fill("nina@acme.example")
    admin.get_by_label("Role", exact=True).select_option("finance_admin")
    admin.get_by_role("button", name="Send invitation").click()
    admin.get_by_text("Invitation sent to nina@acme.example.").wait_for()
    assert admin.url == f"{base}/account/acme/people/"  # htmx swapped the panel in place
    row = admin.get_by_role("row").filter(has_text="nina@acme.example")
    assert "Finance admin" in row.inner_text() and "pending" in row.inner_text()
    _shot(admin, "02-invited")

    [message] = emails_inline
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", message.body).group(0)
    assert link.startswith(base)

    invitee = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    invitee.goto(link)
    assert invitee.get_by_role("heading", name="Join Acme Support").is_visible()
    assert invitee.get_by_label("Username").input_value() == "nina@acme.example"
    invitee.get_by_label("Username").fill("nina")
    invitee.get_by_label("First name").fill("Nina")
    invitee.get_by_label("Last name").fill("Ng")
    invitee.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    invitee.get_by_label("Password again").fill(NEW_PASSWORD)
    _shot(invitee, "03-accept")
    invitee.get_by_role("button", name="Set password and join").click()
    invitee.wait_for_load_state()
    assert invitee.url == f"{base}/accounts/login/"
    assert invitee.get_by_text("Welcome! Your password is set: log in as nina.").is_visible()
    invitee.get_by_label("Username").fill("nina")
    invitee.get_by_label("Password").fill(NEW_PASSWORD)
    invitee.get_by_role("button", name="Log in").click()
    invitee.wait_for_load_state()
    assert invitee.url == f"{base}/account/acme/"
    assert "Nina Ng" in invitee.locator(".who-name").inner_text()

    # The admin sees Nina among the people and makes her a viewer.
    admin.reload()
    nina = User.objects.get(username="nina")
    assert (nina.role, nina.account_id) == (Role.FINANCE_ADMIN, acme.pk)
    admin.get_by_label("Role of nina").select_option("viewer")
    admin.get_by_role("button", name="Change role of nina").click()
    admin.get_by_text("nina is now Viewer.").wait_for()
    nina.refresh_from_db()
    assert nina.role == Role.VIEWER
    changes = admin.locator(".people-changes").inner_text()
    assert "role changed · nina (Finance admin → Viewer)" in changes
    assert "joined · nina" in changes
    _shot(admin, "04-joined")


def test_the_sign_in_page_leads_to_password_reset(live_server, browser, emails_inline):
    acme = factories.make_account("acme", name="Acme Support")
    ada = factories.make_user(Role.VIEWER, acme, "ada")
    User.objects.filter(pk=ada.pk).update(email="ada@acme.example")
    base = live_server.url
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill("ada@acme.example")
    _shot(page, "05-reset")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Check your email").is_visible()
    _shot(page, "06-reset-sent")
    [message] = emails_inline
    link = re.search(r"https?://\S+/accounts/password-reset/\S+/\S+/", message.body).group(0)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    _shot(page, "07-reset-set")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Password set").is_visible()
    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    assert page.url == f"{base}/account/acme/"


def test_the_vendor_staff_page(live_server, browser, settings):
    """A vendor operator's page: a deactivated colleague, an open and an expired invitation."""
    settings.OTP_REQUIRED_FOR_STAFF = False
    olga = factories.make_user(Role.VENDOR_OPERATOR, None, "olga")
    sam = factories.make_user(Role.VENDOR_SUPPORT, None, "sam")
    factories.make_user(Role.CUSTOMER_ADMIN, factories.make_account("acme"), "alice")
    people.person_deactivate(actor=olga, account=None, user_id=sam.pk)
    people.invitation_create(actor=olga, account=None, email="new@vendor.example", role="vendor_support", base_url="")
    old = people.invitation_create(
        actor=olga, account=None, email="old@vendor.example", role="vendor_operator", base_url=""
    )
    Invitation.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(days=1))
    base = live_server.url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("olga")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    open_menu(page, "Setup")
    page.get_by_role("link", name="Staff").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", name="Vendor staff", exact=True).is_visible()
    assert "alice" not in page.locator("#people-panel").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke invitation to new@vendor.example").click()
    page.get_by_text("Invitation to new@vendor.example revoked.").wait_for()
    assert page.get_by_role("row").filter(has_text="old@vendor.example").get_by_text("expired").is_visible()
    _shot(page, "08-vendor-staff")
