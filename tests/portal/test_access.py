"""Who sees which portal page: every page and the export × every role, tenancy and cost fields."""

from __future__ import annotations

import re

import pytest

from metering.models import Event
from tests.portal.conftest import COST

A_PAGES = {
    "dashboard": "/account/acme/",
    "dashboard_90_days": "/account/acme/?range=90",
    "events": "/account/acme/events/",
    "events_filtered": "/account/acme/events/?status=non_billable&reason=abandoned",
    "event_detail": "/account/acme/events/a-evt-0010",
    "charging_terms": "/account/acme/not-charged/",
    "export": "/account/acme/events.csv",
}
# A customer of account B gets the same answer as for a page that does not exist.
ROLE_STATUS = {
    "admin_a": 200,
    "finance_a": 200,
    "viewer_a": 200,
    "user_b": 404,
    "support": 200,
    "operator": 200,
    "anonymous": 302,
}


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


@pytest.mark.parametrize("page", A_PAGES)
@pytest.mark.parametrize("role", ROLE_STATUS)
def test_account_pages_by_role(events, clients, page, role):
    response = clients[role].get(A_PAGES[page])
    assert response.status_code == ROLE_STATUS[role]
    body = _body(response)
    if role == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")
    elif role == "user_b":
        assert "a-evt-" not in body
        assert "There is nothing here" in body  # the portal's own 404 page
    else:
        assert "a-evt-" in body or page in ("dashboard", "dashboard_90_days", "charging_terms")


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin_a", 403),
        ("finance_a", 403),
        ("viewer_a", 403),
        ("user_b", 403),
        ("support", 200),
        ("operator", 200),
        ("anonymous", 302),
    ],
)
def test_vendor_overview_is_vendor_staff_only(events, clients, role, status):
    response = clients[role].get("/overview/")
    assert response.status_code == status
    if status == 403:
        assert "You do not have access to this page" in response.content.decode()
        assert "Acme Support" not in response.content.decode().split("<main", 1)[1]


# The catalogue (metering.views): vendor staff read it, operators alone write; customers get 403.
CATALOGUE_PAGES = {
    "catalogue": ("/catalogue/", {"support": 200, "operator": 200}),
    "outcome_type": ("/catalogue/types/resolved_conversation/", {"support": 200, "operator": 200}),
    "outcome_type_new": ("/catalogue/new/", {"support": 403, "operator": 200}),
    "criteria_new": ("/catalogue/types/resolved_conversation/criteria/new/", {"support": 403, "operator": 200}),
}


@pytest.mark.parametrize("page", CATALOGUE_PAGES)
@pytest.mark.parametrize("role", ["admin_a", "finance_a", "viewer_a", "user_b", "support", "operator", "anonymous"])
def test_catalogue_pages_are_vendor_staff_only(catalogue, clients, page, role):
    url, vendor_status = CATALOGUE_PAGES[page]
    response = clients[role].get(url)
    assert response.status_code == {"anonymous": 302, **vendor_status}.get(role, 403)
    if response.status_code == 403:
        assert "resolved_conversation v1" not in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin_a", 403), ("viewer_a", 403), ("user_b", 403), ("support", 302), ("operator", 302), ("anonymous", 302)],
)
def test_account_switcher_is_vendor_staff_only(events, clients, role, status):
    response = clients[role].get("/switch/?account=acme&to=events")
    assert response.status_code == status
    if role in ("support", "operator"):
        assert response["Location"] == "/account/acme/events/"
        assert clients[role].session["portal_account"] == "acme"


def test_vendor_switch_to_unknown_account_is_404(events, clients):
    assert clients["operator"].get("/switch/?account=nope").status_code == 404


@pytest.mark.parametrize(
    ("role", "location"),
    [
        ("admin_a", "/account/acme/"),
        ("finance_a", "/account/acme/"),
        ("viewer_a", "/account/acme/"),
        ("user_b", "/account/globex/"),
        ("support", "/overview/"),
        ("operator", "/overview/"),
    ],
)
def test_home_lands_customers_on_their_dashboard_and_vendors_on_the_overview(clients, role, location):
    response = clients[role].get("/")
    assert response.status_code == 302
    assert response["Location"] == location


def test_anonymous_home_goes_to_login(clients):
    response = clients["anonymous"].get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize(
    "url",
    [
        "/account/acme/events/b-evt-0001",  # B's event under A's account
        "/account/globex/events/b-evt-0001",  # B's account
        "/account/globex/",
        "/account/globex/events/",
        "/account/globex/events.csv",
        "/account/globex/not-charged/",
        "/account/acme/events/no-such-event",
        "/account/nope/",
    ],
)
def test_another_accounts_objects_are_404_for_a_customer(events, clients, url):
    response = clients["admin_a"].get(url)
    assert response.status_code == 404
    body = _body(response)
    assert "b-evt-" not in body and "Globex" not in body


def test_b_never_sees_a_rows_in_table_export_or_dashboard(events, clients):
    client = clients["user_b"]
    table = client.get("/account/globex/events/").content.decode()
    assert "b-evt-0000" in table and "a-evt-" not in table
    export = _body(client.get("/account/globex/events.csv"))
    lines = export.strip().splitlines()
    assert len(lines) == 1 + 12
    assert all(line.startswith("b-evt-") for line in lines[1:])
    dashboard = client.get("/account/globex/")
    assert dashboard.context["summary"].total == 12
    assert "Acme" not in dashboard.content.decode()


@pytest.mark.parametrize("role", ["admin_a", "finance_a", "viewer_a"])
@pytest.mark.parametrize("page", A_PAGES)
def test_vendor_cost_never_reaches_customer_pages_or_exports(events, clients, role, page):
    body = _body(clients[role].get(A_PAGES[page]))
    assert COST not in body
    # Nor rounded: no number 0.78 (a timestamp's "20.785736" is not one).
    assert re.search(r"(?<![\d.])0\.78(?!\d)", body) is None
    assert "cost" not in body.lower()


def test_vendor_staff_see_the_cost_on_the_event_detail(events, clients):
    body = clients["support"].get("/account/acme/events/a-evt-0010").content.decode()
    assert "Delivery cost" in body and "$0.777777" in body
    # …but not in the export, which is the customer's document.
    assert COST not in _body(clients["support"].get("/account/acme/events.csv"))


def test_the_dispute_place_is_on_every_detail_and_only_customer_admins_can_act(events, clients):
    billable = Event.objects.filter(account__external_id="acme", status="billable").order_by("pk").first()
    url = f"/account/acme/events/{billable.event_id}"
    admin = clients["admin_a"].get(url).content.decode()
    viewer = clients["viewer_a"].get(url).content.decode()
    assert 'id="dispute"' in admin and 'id="dispute"' in viewer
    assert "Dispute this event" in admin
    assert "Dispute this event" not in viewer
    assert "A customer admin of Acme Support can dispute this event" in viewer


def test_header_shows_account_and_current_period(events, clients):
    body = clients["viewer_a"].get("/account/acme/events/").content.decode()
    assert "Acme Support" in body and "Current period" in body
    assert "Switch account" not in body  # customers never switch accounts
    vendor = clients["operator"].get("/account/acme/events/").content.decode()
    assert "Switch account" in vendor and 'value="globex"' in vendor


def test_nav_by_role(events, clients):
    customer = clients["admin_a"].get("/account/acme/").content.decode()
    assert "/overview/" not in customer
    vendor = clients["operator"].get("/overview/").content.decode()
    assert 'href="/overview/"' in vendor
