"""Portal pages: odd input in a URL is read as nothing, never a server error."""

from __future__ import annotations

import base64

import pytest
from django.test import Client

from accounts.models import Role
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize


def signed_in(account, role=Role.CUSTOMER_ADMIN) -> Client:
    client = Client()
    client.force_login(factories.make_user(role, account))
    return client


@pytest.mark.parametrize("query", ["line=%C2%B2", "line=%D9%A1", "line=99999999999999999999999"])
def test_a_line_that_is_not_an_ascii_number_files_nothing(account_a, outcome_type, query):
    # "²".isdigit() is true, and int("²") raised: once a server error.
    response = signed_in(account_a).get(f"/account/{account_a.external_id}/disputes/new/?{query}")
    assert response.status_code in (200, 404)


@pytest.mark.parametrize(
    "cursor",
    ["garbage", base64.urlsafe_b64encode(f"2026-06-12T10:00:00+00:00|{2**63}".encode()).decode().rstrip("=")],
)
def test_an_invoice_lines_page_with_a_cursor_it_did_not_write_starts_from_the_newest(account_a, outcome_type, cursor):
    contract(account_a, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
    post(account_a, 2)
    invoice = settle_and_finalize(account_a)
    url = f"/account/{account_a.external_id}/invoices/{invoice.pk}/lines/{invoice.lines.get().pk}/"
    response = signed_in(account_a).get(f"{url}?cursor={cursor}")
    assert response.status_code == 200
    listed = {event.event_id for event, _charge in response.context["events"]}
    assert listed == set(_event_ids(account_a))  # the first page: both events


def _event_ids(account) -> list[str]:
    from metering.models import Event

    return list(Event.objects.filter(account=account).values_list("event_id", flat=True))
