"""Headless Chromium (Debian's package) driven by Playwright, for every browser test."""

from __future__ import annotations

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium for a whole module (the every-page net opens dozens of pages)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def demo_portal(django_db_setup, django_db_blocker):
    """A small demo world (``seed_demo``: six accounts, one user per role, invoices, disputes) behind
    a live server, shared by the tests of one module; the database is emptied after them.

    pytest-django's ``live_server`` would flush the database after every test: the world is built
    once here instead, with the database unblocked for the module's lifetime. The module's tests must
    carry ``pytest.mark.django_db``: without a marked test in the session pytest-django creates no
    test database, and this fixture refuses to run on any other. Vendor staff sign in with the
    password alone (``OTP_REQUIRED_FOR_STAFF`` off, as in ``make demo``).
    """
    from io import StringIO

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import override_settings
    from pytest_django.live_server_helper import LiveServer

    test_name = settings.DATABASES["default"].get("TEST", {}).get("NAME")
    if not test_name or connection.settings_dict["NAME"] != test_name:
        name = connection.settings_dict["NAME"]
        raise RuntimeError(f"demo_portal would seed and flush {name!r}, not a test database")

    # The demo users' password is hashed the way the tests' autouse fixture checks it (MD5, fast).
    fast = override_settings(
        OTP_REQUIRED_FOR_STAFF=False, PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    with django_db_blocker.unblock(), fast:
        call_command("seed_demo", events=3000, days=90, workers=1, seed=42, reset=True, stdout=StringIO())
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            yield server.url
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            call_command("flush", interactive=False, verbosity=0)
