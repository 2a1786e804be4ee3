"""The lifecycle pages: vendor finance reads, vendor operators change, customers never see them."""

from __future__ import annotations

import pytest

from accounts.models import AccountLifecycleChange
from tests.finance.conftest import PAGE_STATUS

PAGES = ["/finance/accounts/", "/finance/accounts/acme/lifecycle/"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("who", PAGE_STATUS)
def test_lifecycle_pages_by_role(staff_clients, page, who):
    assert staff_clients[who].get(page).status_code == PAGE_STATUS[who]


def test_an_operator_churns_an_account_and_the_list_shows_it(staff_clients, account_a):
    response = staff_clients["operator"].post(
        "/finance/accounts/acme/lifecycle/", {"status": "churned", "effective_on": "2026-03-01"}
    )
    assert response.status_code == 302
    (change,) = AccountLifecycleChange.objects.all()
    assert (change.account_id, change.status, change.effective_at.isoformat(), change.changed_by) == (
        account_a.pk,
        "churned",
        "2026-03-01T00:00:00+00:00",
        "olga",
    )
    body = staff_clients["finance"].get("/finance/accounts/").content.decode()
    assert "lifecycle-churned" in body and "2026-03-01" in body
    # A refused move says why and writes nothing.
    again = staff_clients["operator"].post(
        "/finance/accounts/acme/lifecycle/", {"status": "suspended", "effective_on": "2026-03-02"}
    )
    assert again.status_code == 200
    assert "An account that is churned cannot become suspended." in again.content.decode()
    assert AccountLifecycleChange.objects.count() == 1


@pytest.mark.parametrize("who", ["finance", "admin_a", "support"])
def test_only_operators_change_the_lifecycle(staff_clients, who):
    response = staff_clients[who].post(
        "/finance/accounts/acme/lifecycle/", {"status": "churned", "effective_on": "2026-03-01"}
    )
    assert response.status_code == 403
    assert AccountLifecycleChange.objects.count() == 0
    if who == "finance":
        assert "Change the status" not in staff_clients[who].get("/finance/accounts/acme/lifecycle/").content.decode()
