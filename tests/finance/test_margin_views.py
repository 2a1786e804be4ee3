"""Margin through the real pipeline: the rollups' costs, the ledger's charges, the platform fee, the loss
outcomes and their events; the same figures in the API, the page and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Account, Role
from billing.ingestion import outcomes_settle
from billing.services import contract_version_create, invoice_draft_refresh
from metering.services import outcome_cost_create
from outcomeportal.core.periods import period_at
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """acme (catalogue prices, $0.99): 3 billable, 1 abandoned, 1 sandbox; globex (a $100 platform fee
    with 10 included): 2 billable."""
    rc = factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme", tier="enterprise")
    globex = factories.make_account("globex", name="Globex", tier="smb")
    now = timezone.now()
    settled = now - timedelta(days=5)
    since = (now - timedelta(days=40)).date()
    outcome_cost_create(outcome_type=rc, complexity="", amount=D("0.03"), effective_from=since)
    outcome_cost_create(outcome_type=rc, complexity="complex", amount=D("0.45"), effective_from=since)
    contract_version_create(
        account=globex,
        document={
            "effective_from": since.replace(day=1).isoformat(),
            "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
            "platform_fee": {"name": "Platform fee", "amount": "100.00", "included_outcomes": 10},
        },
    )

    def ev(account, n, **fields):
        return factories.event_payload(account, f"{account.external_id}-{n}", occurred_at=settled, **fields)

    factories.ingest(
        ev(acme, 1, cost_amount="0.10"),
        ev(acme, 2, cost_amount="1.50"),  # costs more than its $0.99: a loss outcome
        ev(acme, 3, complexity="complex"),  # the catalogue's complex cost, 0.45
        ev(acme, 4, failure_reason="abandoned"),  # the catalogue's cost, 0.03: the AI ran
        ev(acme, 5, sandbox=True, cost_amount="0.20"),
        ev(globex, 1, cost_amount="0.50"),
        ev(globex, 2, cost_amount="0.50"),
        now=now,
    )
    outcomes_settle(now=now)
    period = period_at(settled, "UTC")
    invoice_draft_refresh(account=globex, period=period, now=now)
    finance = Client()
    finance.force_login(factories.make_user(Role.VENDOR_FINANCE, None, "ana"))
    return {"api": Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}"), "page": finance, "period": period}


def test_margin_by_account_hand_computed(world):
    body = world["api"].get(f"/api/v1/finance/margin?period={world['period']}&group_by=account").json()
    assert body["default_margin_floor"] == "0.6000"
    assert body["rows"] == [
        {
            "segment": {"account": "acme"}, "period": world["period"], "currency": "USD",
            "charged": "2.970000",  # 3 × 0.99
            "cost": "2.280000",  # 0.10 + 1.50 + 0.45 + 0.03 + 0.20
            "gross_margin": "0.2323",  # 0.69 / 2.97
            "margin_floor": "0.6000", "below_floor": True, "loss_outcomes": 1, "uncosted_outcomes": 0,
        },
        {
            "segment": {"account": "globex"}, "period": world["period"], "currency": "USD",
            "charged": "100.000000",  # both outcomes included: the platform fee is what they earned
            "cost": "1.000000",
            "gross_margin": "0.9900",
            "margin_floor": "0.6000", "below_floor": False, "loss_outcomes": 0, "uncosted_outcomes": 0,
        },
    ]  # fmt: skip


def test_a_loss_outcome_opens_its_events(world):
    page = world["page"].get(f"/finance/margin/?period={world['period']}&group_by=account")
    html = page.content.decode()
    link = f"/finance/margin/losses/?period={world['period']}&amp;account=acme"
    assert link in html
    losses = world["page"].get(link.replace("&amp;", "&"))
    assert losses.status_code == 200
    assert [(e.event_id, e.cost, e.earned) for e in losses.context["events"]] == [
        ("acme-2", D("1.500000"), D("0.990000"))
    ]
    assert "/account/acme/events/acme-2" in losses.content.decode()


def test_the_api_the_page_and_the_csv_give_the_same_figures(world):
    query = f"period={world['period']}&months=2&group_by=tier"
    api = world["api"].get(f"/api/v1/finance/margin?{query}").json()
    page = world["page"].get(f"/finance/margin/?{query}")
    assert page.context["report"].as_api() == api
    html = page.content.decode()
    for row in api["rows"]:
        if row["period"] == world["period"]:
            assert f"{D(row['charged']):,.2f}" in html and f"{D(row['cost']):,.2f}" in html
    response = world["page"].get(f"/finance/margin.csv?{query}")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {
            "tier": r["segment"]["tier"],
            **{
                k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in r.items() if k != "segment"
            },
        }
        for r in api["rows"]
    ]
    assert [r["tier"] for r in rows] == ["enterprise", "smb"]


def test_costs_are_the_vendors_catalogue_shows_them_to_vendor_keys_only(world):
    vendor = world["api"].get("/api/v1/outcome-types/resolved_conversation").json()
    assert vendor["costs"] == [
        {"complexity": "", "amount": "0.030000", "effective_from": vendor["costs"][0]["effective_from"]},
        {"complexity": "complex", "amount": "0.450000", "effective_from": vendor["costs"][1]["effective_from"]},
    ]
    assert vendor["margin_floor"] is None
    customer = Client(HTTP_AUTHORIZATION=f"Bearer {factories.account_key(Account.objects.get(external_id='acme'))}")
    body = customer.get("/api/v1/outcome-types/resolved_conversation").json()
    assert "costs" not in body and "margin_floor" not in body
    assert customer.get("/api/v1/finance/margin").status_code == 403


def test_a_cost_is_never_edited_a_second_one_the_same_day_is_refused(world):
    post = lambda body: world["api"].post(  # noqa: E731
        "/api/v1/outcome-types/resolved_conversation/costs", body, content_type="application/json"
    )
    assert post({"complexity": "simple", "amount": "0.02", "effective_from": "2026-01-01"}).status_code == 201
    again = post({"complexity": "simple", "amount": "0.05", "effective_from": "2026-01-01"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "outcome_cost_exists")
    assert post({"complexity": "huge", "amount": "0.02", "effective_from": "2026-01-01"}).status_code == 400
    assert post({"amount": "-0.02", "effective_from": "2026-01-01"}).status_code == 400
