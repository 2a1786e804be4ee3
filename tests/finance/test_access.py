"""The vendor finance role, and who reaches the finance area (pages; the API is in tests/test_tenancy.py)."""

from __future__ import annotations

import pytest

from accounts.access import ROLE_PERMS, Perm, Principal
from accounts.models import Role, User
from tests import factories
from tests.finance.conftest import PAGE_STATUS

FINANCE_PAGES = [
    "/finance/",
    "/finance/attainment/",
    "/finance/attainment/?group_by=tier,account",
    "/finance/attainment.csv",
]


def test_vendor_finance_reads_every_account_and_the_finance_area_and_changes_nothing():
    assert ROLE_PERMS["vendor_finance"] == {
        Perm.EVENTS_READ,
        Perm.DISPUTES_READ,
        Perm.INVOICES_READ,
        Perm.ALL_ACCOUNTS,
        Perm.COST_READ,
        Perm.FINANCE_READ,
    }


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("vendor_finance", True),
        ("vendor_operator", True),
        ("vendor", True),  # the vendor's API key
        ("vendor_support", False),
        ("customer_admin", False),
        ("finance_admin", False),
        ("viewer", False),
    ],
)
def test_who_holds_finance_read(role, allowed):
    principal = Principal(role=role, account_id=None if role.startswith("vendor") else 1, label=role)
    assert principal.can(Perm.FINANCE_READ) is allowed


@pytest.mark.django_db
def test_a_vendor_finance_user_belongs_to_no_account(account_a):
    factories.make_user(Role.VENDOR_FINANCE, None, "ana")
    with pytest.raises(Exception, match="user_account_matches_role"):
        User.objects.create_user(username="bad", password="x", role=Role.VENDOR_FINANCE, account=account_a)


@pytest.mark.parametrize("page", FINANCE_PAGES)
@pytest.mark.parametrize("who", PAGE_STATUS)
def test_finance_pages_by_role(staff_clients, page, who):
    response = staff_clients[who].get(page)
    assert response.status_code == PAGE_STATUS[who]
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("who", PAGE_STATUS)
def test_the_finance_link_is_in_the_navigation_of_those_who_may_open_it(staff_clients, who):
    if who == "anonymous":
        return
    home = "/overview/" if who in ("support", "operator", "finance") else "/account/acme/"
    body = staff_clients[who].get(home).content.decode()
    assert ('href="/finance/"' in body) is (PAGE_STATUS[who] == 200)
