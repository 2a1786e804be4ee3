"""Bad input is a 400 in the contract's error shape, never a 500 and never read loosely."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from tests.billing.helpers import contract, post, settle_and_finalize
from tests.metering.helpers import assert_error

AT = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    cursor(f"{AT.isoformat()}|{2**63}"),  # an id beyond bigint
    cursor(f"{AT.isoformat()}|{10**40}"),
    cursor(f"{AT.isoformat()}| 7"),
    cursor(f"{AT.isoformat()}|1_0"),
    cursor("2026-11-01T12:30:00|7"),
]


@pytest.fixture
def line_url(account_a, outcome_type):
    contract(account_a, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(account_a, 3)
    invoice = settle_and_finalize(account_a)
    return f"/api/v1/invoices/{invoice.pk}/lines/{invoice.lines.get().pk}/events"


@pytest.mark.parametrize("bad", BAD_CURSORS)
def test_every_paginated_list_refuses_a_cursor_it_did_not_write(vendor_client, account_a, line_url, bad):
    for url in ("/api/v1/events", f"/api/v1/accounts/{account_a.external_id}/credits", line_url):
        assert_error(vendor_client.get(url, {"cursor": bad}), 400, "invalid_cursor", {"cursor": ["Invalid cursor."]})


def test_the_lists_own_cursors_are_read(vendor_client, account_a, line_url):
    first = vendor_client.get("/api/v1/events", {"limit": 1}).json()
    assert first["next_cursor"]
    assert vendor_client.get("/api/v1/events", {"limit": 1, "cursor": first["next_cursor"]}).status_code == 200


@pytest.mark.parametrize("path", ["invoices/{big}", "invoices/{big}/lines/{big}/events", "disputes/{big}"])
@pytest.mark.parametrize("big", [2**63, 10**30])
def test_an_id_beyond_bigint_in_a_path_is_not_found(vendor_client, path, big):
    assert_error(vendor_client.get(f"/api/v1/{path.format(big=big)}"), 404, "not_found", fields=None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"monthly_cap_outcomes": "5"}, "monthly_cap_outcomes"),  # DRF alone reads "5" as 5
        ({"monthly_cap_outcomes": 5.0}, "monthly_cap_outcomes"),
        ({"monthly_cap_outcomes": True}, "monthly_cap_outcomes"),
        ({"alert_thresholds": ["50"]}, "alert_thresholds.0"),
        ({"at_cap": 1}, "at_cap"),
        ({"monthly_cap": 5}, "monthly_cap"),
    ],
)
def test_a_value_of_another_json_type_is_refused(vendor_client, account_a, body, field):
    response = vendor_client.put(
        f"/api/v1/accounts/{account_a.external_id}/spend-controls", body, content_type="application/json"
    )
    assert field in assert_error(response, 400, "validation_error")["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "x1", "name": 12}, "name"),  # DRF alone reads 12 as "12"
        ({"external_id": "x1", "name": "A\x00B"}, "name"),  # PostgreSQL text cannot hold NUL
        ({"external_id": "x1", "name": "X", "segment": {"tier": 1}}, "segment.tier"),
    ],
)
def test_text_is_a_json_string_without_nul(vendor_client, body, field):
    response = vendor_client.post("/api/v1/accounts", body, content_type="application/json")
    assert field in assert_error(response, 400, "validation_error")["fields"]


@pytest.mark.parametrize("query", ["account=", "cursor=", "limit=", "limit=+5", "limit= 5", "from=", "status="])
def test_a_query_parameter_given_empty_is_not_ignored(vendor_client, query):
    response = vendor_client.get(f"/api/v1/events?{query}")
    assert response.status_code in (400, 404)


@pytest.mark.parametrize("url", ["/api/v1/accounts?x=%00", "/api/v1/accounts/ac%00me", "/api/v1/invoices/1?a=b%00"])
def test_a_nul_anywhere_in_the_url_is_400_on_any_operation(vendor_client, url):
    assert vendor_client.get(url).status_code == 400
