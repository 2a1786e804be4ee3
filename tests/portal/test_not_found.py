"""A 404 is the portal's page even with DEBUG on: never Django's technical page listing every URL."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from tests import factories


@pytest.mark.parametrize("debug", [True, False])
def test_an_unknown_url_is_the_portals_404_page(db, settings, debug):
    settings.DEBUG = debug
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "URLconf" not in html and "DEBUG = True" not in html
    assert "There is nothing here" in html or "not found" in html.lower()


def test_a_views_404_with_debug_is_the_portals_page_and_the_apis_stays_json(db, settings):
    settings.DEBUG = True
    account = factories.make_account("acme")
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, account))
    page = client.get("/account/globex/spend/")  # another account's: a view's Http404
    assert page.status_code == 404 and "DEBUG = True" not in page.content.decode()
    api = Client().get("/api/v1/no-such-thing", HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
