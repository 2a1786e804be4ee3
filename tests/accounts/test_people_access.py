"""Who may see and change whose people: a customer admin only their account's (another account's is
404, the same as a missing one), other customer roles and vendor support never (403), vendor
operators every account's and the vendor staff's; on every denial nothing changes."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import Account, Invitation, PeopleChange, Role, User
from accounts.people import invitation_create
from tests import factories


@pytest.fixture
def world(account_a, account_b):
    people = {
        "admin_a": factories.make_user(Role.CUSTOMER_ADMIN, account_a, "alice"),
        "finance_a": factories.make_user(Role.FINANCE_ADMIN, account_a, "fiona"),
        "viewer_a": factories.make_user(Role.VIEWER, account_a, "victor"),
        "admin_b": factories.make_user(Role.CUSTOMER_ADMIN, account_b, "bob"),
        "viewer_b": factories.make_user(Role.VIEWER, account_b, "betty"),
        "support": factories.make_user(Role.VENDOR_SUPPORT, None, "sam"),
        "operator": factories.make_user(Role.VENDOR_OPERATOR, None, "olga"),
    }
    invitations = {
        "a": invitation_create(
            actor=people["admin_a"], account=account_a, email="new@acme.example", role="viewer", base_url=""
        ),
        "b": invitation_create(
            actor=people["admin_b"], account=account_b, email="new@globex.example", role="viewer", base_url=""
        ),
    }
    PeopleChange.objects.all().delete()
    return people, invitations


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _state():
    users = list(User.objects.order_by("pk").values_list("pk", "role", "is_active", "session_epoch"))
    invitations = list(Invitation.objects.order_by("pk").values_list("pk", "nonce", "revoked_at", "send_count"))
    return users, invitations, PeopleChange.objects.count()


@pytest.mark.parametrize(
    ("who", "acme", "globex", "staff"),
    [
        ("admin_a", 200, 404, 403),
        ("finance_a", 403, 403, 403),
        ("viewer_a", 403, 403, 403),
        ("admin_b", 404, 200, 403),
        ("support", 403, 403, 403),
        ("operator", 200, 200, 200),
    ],
)
def test_who_sees_which_people_page(world, who, acme, globex, staff):
    client = _client(world[0][who])
    assert client.get("/account/acme/people/").status_code == acme
    assert client.get("/account/globex/people/").status_code == globex
    assert client.get("/vendor/people/").status_code == staff


def test_anonymous_is_sent_to_sign_in(world):
    response = Client().get("/account/acme/people/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_page_shows_only_its_own_people_and_invitations(world):
    people, _ = world
    body = _client(people["admin_a"]).get("/account/acme/people/").content.decode()
    for name in ("alice", "fiona", "victor", "new@acme.example"):
        assert name in body
    for name in ("bob", "betty", "sam", "olga", "new@globex.example"):
        assert name not in body


def _actions(people, invitations) -> list[tuple[str, dict]]:
    """Every action of A's page, aimed at A's people and invitation."""
    victor, invitation = people["viewer_a"], invitations["a"]
    return [
        ("invite", {"email": "x@acme.example", "role": "viewer"}),
        (f"{victor.pk}/role", {"role": "customer_admin"}),
        (f"{victor.pk}/deactivate", {}),
        (f"{victor.pk}/reactivate", {}),
        (f"invitations/{invitation.pk}/resend", {}),
        (f"invitations/{invitation.pk}/revoke", {}),
    ]


@pytest.mark.parametrize("who", ["finance_a", "viewer_a", "support"])
def test_other_roles_change_nothing(world, who):
    people, invitations = world
    client, before = _client(people[who]), _state()
    for action, data in _actions(people, invitations):
        assert client.post(f"/account/acme/people/{action}", data).status_code == 403, action
    assert _state() == before


def test_another_accounts_admin_gets_404_and_changes_nothing(world):
    people, invitations = world
    client, before = _client(people["admin_b"]), _state()
    for action, data in _actions(people, invitations):
        assert client.post(f"/account/acme/people/{action}", data).status_code == 404, action
    assert _state() == before


def test_another_accounts_people_are_404_through_ones_own_page(world):
    """B's person and invitation, aimed at through B's admin's own page: missing there."""
    people, invitations = world
    client, before = _client(people["admin_b"]), _state()
    victor, invitation = people["viewer_a"], invitations["a"]
    for action in (f"{victor.pk}/role", f"{victor.pk}/deactivate", f"invitations/{invitation.pk}/revoke"):
        assert client.post(f"/account/globex/people/{action}", {"role": "customer_admin"}).status_code == 404
    assert _state() == before


def test_a_customer_admin_cannot_reach_the_vendor_staff(world):
    people, _ = world
    client, before = _client(people["admin_a"]), _state()
    sam = people["support"]
    assert client.post(f"/vendor/people/{sam.pk}/deactivate").status_code == 403
    assert client.post(f"/account/acme/people/{sam.pk}/deactivate").status_code == 404
    assert client.post("/vendor/people/invite", {"email": "x@v.example", "role": "vendor_operator"}).status_code == 403
    assert _state() == before


def test_vendor_staff_are_not_an_accounts_people(world):
    people, _ = world
    client, before = _client(people["operator"]), _state()
    alice = people["admin_a"]
    assert client.post(f"/vendor/people/{alice.pk}/deactivate").status_code == 404
    assert _state() == before


def test_changes_are_shown_on_their_own_page_only(world, account_a):
    people, _ = world
    _client(people["admin_a"]).post(f"/account/acme/people/{people['viewer_a'].pk}/role", {"role": "finance_admin"})
    _client(people["admin_b"]).post(f"/account/globex/people/{people['viewer_b'].pk}/deactivate")
    acme = _client(people["admin_a"]).get("/account/acme/people/").content.decode()
    globex = _client(people["admin_b"]).get("/account/globex/people/").content.decode()
    assert "Viewer → Finance admin" in acme and "deactivated · <strong>betty" not in acme
    assert "deactivated · <strong>betty</strong>" in globex and "Viewer → Finance admin" not in globex


def test_nav_links_by_role(world):
    people, _ = world
    admin = _client(people["admin_a"]).get("/account/acme/events/").content.decode()
    assert 'href="/account/acme/people/"' in admin and 'href="/vendor/people/"' not in admin
    viewer = _client(people["viewer_a"]).get("/account/acme/events/").content.decode()
    assert "/people/" not in viewer
    operator = _client(people["operator"]).get("/account/acme/events/").content.decode()
    assert 'href="/account/acme/people/"' in operator and 'href="/vendor/people/"' in operator


def test_times_read_in_the_accounts_time_zone(world, account_a):
    Account.objects.filter(pk=account_a.pk).update(timezone="America/New_York")
    people, _ = world
    _client(people["admin_a"]).post(f"/account/acme/people/{people['viewer_a'].pk}/deactivate")
    body = _client(people["admin_a"]).get("/account/acme/people/").content.decode()
    assert re.search(r"\d\d:\d\d E[SD]T</span>", body)
