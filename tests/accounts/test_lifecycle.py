"""The account lifecycle: allowed moves, history kept, the status at any instant, and its API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.models import AccountLifecycleChange
from accounts.selectors import account_lifecycle_history, account_status_at, account_statuses_at
from accounts.services import LifecycleMoveRefused, account_lifecycle_set
from tests import factories


def _at(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC)


@pytest.mark.django_db
def test_the_status_at_an_instant_is_the_last_change_effective_by_then(account_a, account_b):
    account_lifecycle_set(account=account_a, status="suspended", effective_at=_at(10), changed_by="olga")
    account_lifecycle_set(account=account_a, status="active", effective_at=_at(15), changed_by="olga")
    account_lifecycle_set(account=account_a, status="churned", effective_at=_at(20), changed_by="olga")
    assert [account_status_at(account_id=account_a.pk, at=_at(d)) for d in (1, 10, 14, 15, 19, 20, 31)] == [
        "active",  # before any change: every account starts active
        "suspended",  # from the instant it takes effect
        "suspended",
        "active",
        "active",
        "churned",
        "churned",
    ]
    assert account_status_at(account_id=account_b.pk, at=_at(20)) == "active"
    assert account_statuses_at(at=_at(12)) == {account_a.pk: "suspended", account_b.pk: "active"}
    assert [(c.status, c.effective_at.day) for c in account_lifecycle_history(account=account_a)] == [
        ("suspended", 10),
        ("active", 15),
        ("churned", 20),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moves", "refused", "code"),
    [
        ([], "active", "lifecycle_move_refused"),  # an account starts active: not again
        (["churned"], "suspended", "lifecycle_move_refused"),  # a churned account comes back active, or not at all
        (["suspended"], "suspended", "lifecycle_move_refused"),
        ([], "deleted", "lifecycle_status_invalid"),
    ],
)
def test_moves_the_table_does_not_allow_are_refused_and_write_nothing(account_a, moves, refused, code):
    for day, status in enumerate(moves, start=1):
        account_lifecycle_set(account=account_a, status=status, effective_at=_at(day), changed_by="olga")
    with pytest.raises(LifecycleMoveRefused) as error:
        account_lifecycle_set(account=account_a, status=refused, effective_at=_at(28), changed_by="olga")
    assert error.value.code == code
    assert AccountLifecycleChange.objects.count() == len(moves)


@pytest.mark.django_db
def test_history_is_not_rewritten_a_change_dated_before_the_last_is_refused(account_a):
    account_lifecycle_set(account=account_a, status="churned", effective_at=_at(20), changed_by="olga")
    with pytest.raises(LifecycleMoveRefused) as error:
        account_lifecycle_set(account=account_a, status="active", effective_at=_at(19), changed_by="olga")
    assert error.value.code == "lifecycle_out_of_order"
    assert AccountLifecycleChange.objects.count() == 1


@pytest.mark.django_db
def test_put_lifecycle_with_a_date_means_its_midnight_in_the_account_time_zone(vendor_client):
    factories.make_account("paris", name="Paris", timezone_name="Europe/Paris")
    response = vendor_client.put(
        "/api/v1/accounts/paris/lifecycle",
        {"status": "churned", "effective_at": "2026-03-01"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "account": "paris",
        "status": "churned",
        "history": [
            {
                "status": "churned",
                "effective_at": "2026-02-28T23:00:00Z",
                "changed_by": "key:test vendor",
                "changed_at": response.json()["history"][0]["changed_at"],
            }
        ],
    }


@pytest.mark.django_db
def test_put_lifecycle_refusals(vendor_client, account_a):
    put = lambda body: vendor_client.put(  # noqa: E731
        "/api/v1/accounts/acme/lifecycle", body, content_type="application/json"
    )
    assert put({"status": "active", "effective_at": "2026-03-01"}).json()["error"]["code"] == "lifecycle_move_refused"
    bad_date = put({"status": "suspended", "effective_at": "March 1st"})
    assert bad_date.status_code == 400
    assert bad_date.json()["error"]["fields"] == {
        "effective_at": ["An RFC 3339 timestamp with an offset, or a date YYYY-MM-DD."]
    }
    assert put({"status": "paused", "effective_at": "2026-03-01"}).status_code == 400
    assert put({"status": "suspended", "effective_at": "2026-03-01T00:00:00Z"}).status_code == 200
    late = put({"status": "active", "effective_at": "2026-02-01T00:00:00Z"})
    assert (late.status_code, late.json()["error"]["code"]) == (409, "lifecycle_out_of_order")
    assert AccountLifecycleChange.objects.count() == 1
