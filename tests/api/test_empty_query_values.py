"""Found by the long fuzz run (make fuzz) on the operations added since its last run: a query
parameter given empty (``?period=``) was read as "not given" (DRF reads a QueryDict like a form),
and a country the schema allowed as any string was refused by the service. Now the server refuses
what the schema refuses and accepts what it allows."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories
from tests.conftest import key_client


@pytest.fixture
def vendor(db):
    return Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/finance/attainment?period=", "period"),
        ("/api/v1/finance/margin?period=", "period"),
        ("/api/v1/finance/revenue?currency=", "currency"),
        ("/api/v1/finance/attainment?months=", "months"),
        ("/api/v1/deliveries?status=", "status"),
    ],
)
def test_an_empty_query_value_is_refused_not_ignored(vendor, path, field):
    answer = vendor.get(path)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["fields"]
    assert vendor.get(path.split("?")[0]).status_code == 200  # without it: the default


def test_a_billing_country_is_two_letters_or_empty(db):
    account = factories.make_account("acme")
    admin = key_client(account)

    def patch(country):
        return admin.patch(f"/api/v1/accounts/{account.external_id}", {"billing_country": country},
                           content_type="application/json")  # fmt: skip

    for bad in ("|", "D", "DEU", " de", "1A"):
        answer = patch(bad)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["fields"]["billing_country"] == [
            "A two-letter ISO 3166-1 country code, e.g. DE, or empty."
        ]
    assert (patch("de").status_code, patch("").status_code) == (200, 200)
    account.refresh_from_db()
    assert account.billing_country == ""
    patch("de")
    account.refresh_from_db()
    assert account.billing_country == "DE"
