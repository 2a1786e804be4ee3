"""Attainment through the real pipeline: the rollups' counts, and the same figures in the API, the
page and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from billing.ingestion import outcomes_settle
from billing.services import contract_version_create
from finance.attainment import DIMENSIONS, NOT_ATTEMPTED
from outcomeportal.core import formatting
from outcomeportal.core.periods import period_add, period_at
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    """enterprise (acme): 3 resolved, 2 abandoned, 1 hand-off, 1 sandbox, 1 duplicate, 1 pending;
    smb (globex): 1 resolved, 1 abandoned; mid (initech, in its training window): 2 resolved."""
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme", tier="enterprise", industry="saas")
    globex = factories.make_account("globex", name="Globex", tier="smb", industry="retail")
    initech = factories.make_account("initech", name="Initech", tier="mid", industry="saas")
    now = timezone.now()
    settled = now - timedelta(days=5)
    contract_version_create(
        account=initech,
        document={
            "effective_from": (now - timedelta(days=40)).date().isoformat(),
            "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
            "onboarding": {"starts": (now - timedelta(days=30)).date().isoformat(), "training_days": 60},
        },
    )

    def ev(account, n, **fields):
        return factories.event_payload(account, f"{account.external_id}-{n}", occurred_at=settled, **fields)

    factories.ingest(
        ev(acme, 1, session_id="s1"),
        ev(acme, 2, session_id="s1"),  # duplicate_in_session
        ev(acme, 3),
        ev(acme, 4),
        ev(acme, 5, failure_reason="abandoned"),
        ev(acme, 6, failure_reason="abandoned"),
        ev(acme, 7, human_handoff=True),
        ev(acme, 8, sandbox=True),
        factories.event_payload(acme, "acme-9", occurred_at=now - timedelta(hours=1)),  # pending
        ev(globex, 1),
        ev(globex, 2, failure_reason="abandoned"),
        ev(initech, 1),
        ev(initech, 2),
        now=now,
    )
    outcomes_settle(now=now)
    finance = Client()
    finance.force_login(factories.make_user(Role.VENDOR_FINANCE, None, "ana"))
    return {
        "api": Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}"),
        "page": finance,
        "period": period_at(now, "UTC"),
    }


def _summed(rows: list[dict]) -> dict[str, dict]:
    """Per tier, the counts of every month added up (the pending event may fall in another month)."""
    out: dict[str, dict] = {}
    for row in rows:
        tier = out.setdefault(
            row["segment"]["tier"], {"attempted": 0, "billable": 0, **dict.fromkeys(NOT_ATTEMPTED, 0)}
        )
        tier["attempted"] += row["attempted"]
        tier["billable"] += row["billable"]
        for word, n in row["not_attempted"].items():
            tier[word] += n
    return out


def test_counts_from_the_rollups_leave_out_what_the_ai_did_not_fail_on(world):
    body = world["api"].get(f"/api/v1/finance/attainment?period={world['period']}&months=2&group_by=tier").json()
    assert (body["period"], body["months"], body["group_by"], body["drop_points"]) == (
        world["period"],
        2,
        ["tier"],
        "5",
    )
    zero = dict.fromkeys(NOT_ATTEMPTED, 0)
    assert _summed(body["rows"]) == {
        "enterprise": {"attempted": 6, "billable": 3, **zero, "sandbox": 1, "duplicate_in_session": 1, "pending": 1},
        "mid": {"attempted": 0, "billable": 0, **zero, "training_window": 2},
        "smb": {"attempted": 2, "billable": 1, **zero},
    }
    rates = {(r["segment"]["tier"], r["attainment_rate"]) for r in body["rows"] if r["attempted"]}
    assert rates == {("enterprise", "0.5000"), ("smb", "0.5000")}
    assert all(r["attainment_rate"] is None for r in body["rows"] if not r["attempted"])


def test_the_api_the_page_and_the_csv_give_the_same_figures(world):
    query = f"period={world['period']}&months=2&group_by=tier,industry"
    api = world["api"].get(f"/api/v1/finance/attainment?{query}").json()
    page = world["page"].get(f"/finance/attainment/?{query}")
    assert page.status_code == 200
    assert page.context["report"].as_api() == api
    html = page.content.decode()
    for row in api["rows"]:
        if row["period"] == world["period"] and row["attainment_rate"]:
            assert formatting.percent(Decimal(row["attainment_rate"])) in html  # the table's last month
    response = world["page"].get(f"/finance/attainment.csv?{query}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    csv_rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [
        {
            "tier": r["segment"]["tier"],
            "industry": r["segment"]["industry"],
            "period": r["period"],
            "attempted": str(r["attempted"]),
            "billable": str(r["billable"]),
            "attainment_rate": r["attainment_rate"] or "",
            "trailing_rate": r["trailing_rate"] or "",
            "falling": "true" if r["falling"] else "false",
            **{f"not_attempted_{w}": str(n) for w, n in r["not_attempted"].items()},
        }
        for r in api["rows"]
    ] == csv_rows
    assert len(csv_rows) == 3 * 2  # three (tier, industry) segments, two months


def test_the_page_draws_the_trend_from_static_plotly(world):
    html = world["page"].get("/finance/attainment/?group_by=account").content.decode()
    assert '<script src="/static/js/plotly-basic.min.js" defer></script>' in html
    assert '<script src="/static/js/finance.js" defer></script>' in html
    assert 'id="attainment-data" type="application/json"' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("group_by=tier,industry,account", "group_by", "At most two dimensions, e.g. tier,industry."),
        ("group_by=region", "group_by", f"Unknown dimension 'region': one or two of {', '.join(DIMENSIONS)}."),
        ("period=2026-13", "period", "A month, YYYY-MM."),
        ("months=25", "months", "Ensure this value is less than or equal to 24."),
    ],
)  # fmt: skip
def test_the_api_refuses_bad_parameters(world, query, field, message):
    response = world["api"].get(f"/api/v1/finance/attainment?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}


def test_months_of_the_trend_end_with_the_period(world):
    body = world["api"].get(f"/api/v1/finance/attainment?period={world['period']}&months=12").json()
    assert [r["period"] for r in body["rows"]] == [period_add(world["period"], k) for k in range(-11, 1)]
    assert {tuple(r["segment"]) for r in body["rows"]} == {()}
