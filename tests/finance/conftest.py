"""Fixtures of the finance tests: two accounts, their people, vendor staff of every role."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import Role
from tests import factories


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff_clients(account_a, account_b):
    """A signed-in client per person (customers of A and B, vendor staff of each role), plus anonymous."""
    people = {
        "admin_a": factories.make_user(Role.CUSTOMER_ADMIN, account_a, "alice"),
        "finance_a": factories.make_user(Role.FINANCE_ADMIN, account_a, "fiona"),
        "viewer_a": factories.make_user(Role.VIEWER, account_a, "victor"),
        "admin_b": factories.make_user(Role.CUSTOMER_ADMIN, account_b, "bob"),
        "support": factories.make_user(Role.VENDOR_SUPPORT, None, "sam"),
        "operator": factories.make_user(Role.VENDOR_OPERATOR, None, "olga"),
        "finance": factories.make_user(Role.VENDOR_FINANCE, None, "ana"),
    }
    return {**{name: _client(user) for name, user in people.items()}, "anonymous": Client()}


# Who may open the finance pages: vendor finance and vendor operators; every customer and vendor
# support are refused (403), the anonymous sent to sign in.
PAGE_STATUS = {
    "admin_a": 403,
    "finance_a": 403,
    "viewer_a": 403,
    "admin_b": 403,
    "support": 403,
    "operator": 200,
    "finance": 200,
    "anonymous": 302,
}
