"""The people API: the same rules as the People page, refusals as 409 with a code saying which.
(Who may call it, across accounts and roles, is in tests/test_tenancy.py.)"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Invitation, PeopleChange, Role
from tests import factories

PASSWORD = "pw-Secret-123"


@pytest.fixture
def alice(account_a):
    return factories.make_user(Role.CUSTOMER_ADMIN, account_a, "alice")


def _patch(client: Client, path: str, body: dict):
    return client.patch(path, body, content_type="application/json")


def test_the_last_customer_admin_is_409(alice, admin_a_client):
    response = _patch(admin_a_client, f"/api/v1/accounts/acme/users/{alice.pk}", {"active": False})
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "last_admin",
            "message": "alice is the last customer admin of this account: make someone else one first.",
        }
    }
    alice.refresh_from_db()
    assert alice.is_active is True
    assert PeopleChange.objects.count() == 0


def test_deactivating_over_the_api_ends_sessions_and_names_the_key(alice, account_a, admin_a_client):
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    browser = Client()
    assert browser.post("/accounts/login/", {"username": "victor", "password": PASSWORD}).status_code == 302
    response = _patch(admin_a_client, f"/api/v1/accounts/acme/users/{victor.pk}", {"active": False})
    assert response.status_code == 200
    assert (response.json()["username"], response.json()["active"]) == ("victor", False)
    assert browser.get("/account/acme/events/").status_code == 302
    change = PeopleChange.objects.get()
    assert (change.actor, change.actor_name, change.action) == (None, "key:test customer_admin", "deactivated")


def test_a_signed_in_admin_is_recorded_by_name(alice, account_a):
    victor = factories.make_user(Role.VIEWER, account_a, "victor")
    client = Client()
    client.force_login(alice)
    response = _patch(client, f"/api/v1/accounts/acme/users/{victor.pk}", {"role": "finance_admin", "active": False})
    assert response.status_code == 200
    victor.refresh_from_db()
    assert (victor.role, victor.is_active) == (Role.FINANCE_ADMIN, False)
    assert [(c.actor_name, c.action) for c in PeopleChange.objects.order_by("id")] == [
        ("alice", "role_changed"),
        ("alice", "deactivated"),
    ]


def test_only_customer_roles(alice, admin_a_client):
    response = _patch(admin_a_client, f"/api/v1/accounts/acme/users/{alice.pk}", {"role": "vendor_operator"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"role": ['"vendor_operator" is not a valid choice.']}
    invite = admin_a_client.post(
        "/api/v1/accounts/acme/users", {"email": "x@y.example", "role": "vendor_support"}, "application/json"
    )
    assert invite.status_code == 400
    assert Invitation.objects.count() == 0


def test_inviting_twice_is_409(alice, admin_a_client):
    body = {"email": "nina@example.com", "role": "viewer"}
    assert admin_a_client.post("/api/v1/accounts/acme/users", body, "application/json").status_code == 201
    again = admin_a_client.post("/api/v1/accounts/acme/users", body, "application/json")
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "people_conflict",
        "message": "nina@example.com has an open invitation already: send that one again.",
    }
    assert Invitation.objects.count() == 1


def test_a_revoked_invitation_cannot_be_sent_again(alice, admin_a_client):
    created = admin_a_client.post(
        "/api/v1/accounts/acme/users", {"email": "nina@example.com", "role": "viewer"}, "application/json"
    ).json()
    assert admin_a_client.delete(f"/api/v1/accounts/acme/invitations/{created['id']}").status_code == 204
    again = admin_a_client.post(
        f"/api/v1/accounts/acme/invitations/{created['id']}/resend", content_type="application/json"
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "people_conflict"
    assert admin_a_client.get("/api/v1/accounts/acme/invitations").json() == {"results": []}
