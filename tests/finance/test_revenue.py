"""Revenue: MRR, ARR, NRR and GRR on hand-computed cases, a churned account's revenue stopping at its
churn, and the same figures in the API, the page and the CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from accounts.services import account_lifecycle_set
from billing.invoices.models import CreditNote, Invoice
from billing.services import contract_version_create
from finance.revenue import AccountMonth, cohorts, months_table
from outcomeportal.core import formatting
from outcomeportal.core.periods import period_add, period_at, period_bounds
from tests import factories


def test_nrr_and_grr_with_expansion_contraction_and_churn():
    rows = [
        # cohort 2026-01: a 100 → 150 (expansion 50), b 200 → 150 (contraction 50), c 100 → churned
        AccountMonth("a", "2026-01", D("100"), D("0")),
        AccountMonth("b", "2026-01", D("200"), D("0")),
        AccountMonth("c", "2026-01", D("100"), D("0")),
        AccountMonth("a", "2026-04", D("160"), D("10")),  # net 150
        AccountMonth("b", "2026-04", D("150"), D("0")),
        AccountMonth("c", "2026-04", D("80"), D("0")),  # churned at the start of April: churn 100
        # cohort 2026-03: d 50 → 0 (no revenue: churn)
        AccountMonth("d", "2026-03", D("50"), D("0")),
        AccountMonth("e", "2026-05", D("999"), D("0"), draft=True),  # a draft: no cohort
    ]
    (jan, mar) = cohorts(rows, latest_closed="2026-04", churned_by={"2026-04": {"c"}})
    assert jan.as_api() == {
        "cohort": "2026-01", "compared_with": "2026-04", "accounts": 3, "start": "400.00",
        "nrr": "0.7500",  # (400 + 50 − 50 − 100) / 400
        "grr": "0.6250",  # (400 − 50 − 100) / 400
        "expansion": "50.00", "contraction": "50.00", "churn": "100.00",
    }  # fmt: skip
    assert (mar.nrr, mar.grr, mar.churn) == (D("0.0000"), D("0.0000"), D("50"))
    # Twelve months later once there are twelve.
    (only,) = cohorts([AccountMonth("a", "2025-01", D("10"), D("0"))], latest_closed="2026-06", churned_by={})
    assert only.end == "2026-01"


def test_months_add_up_per_period_and_mark_drafts():
    rows = [
        AccountMonth("a", "2026-04", D("160"), D("10")),
        AccountMonth("b", "2026-04", D("150"), D("0")),
        AccountMonth("a", "2026-05", D("20"), D("0"), draft=True),
    ]
    assert months_table(rows, ["2026-03", "2026-04", "2026-05"]) == [
        {"period": "2026-03", "revenue": "0.00", "credits": "0.00", "net": "0.00", "draft": False},
        {"period": "2026-04", "revenue": "310.00", "credits": "10.00", "net": "300.00", "draft": False},
        {"period": "2026-05", "revenue": "20.00", "credits": "0.00", "net": "20.00", "draft": True},
    ]


def _invoice(account, period: str, subtotal: str, status: str = "finalized") -> None:
    start, end = period_bounds(period, account.timezone)
    Invoice.objects.create(
        account=account, period=period, period_start=start, period_end=end, status=status,
        number=None if status == "draft" else f"INV-{account.external_id}-{period}", currency=account.currency,
        subtotal=D(subtotal), total=D(subtotal), refreshed_at=timezone.now(),
        payment_status=None if status == "draft" else ("void" if status == "void" else "open"),
    )  # fmt: skip


@pytest.fixture
def world(db):
    factories.make_outcome_type()
    acme = factories.make_account("acme", name="Acme")
    globex = factories.make_account("globex", name="Globex")
    paris = factories.make_account("paris", name="Paris", currency="EUR")
    current = period_at(timezone.now(), "UTC")
    m1, m2 = period_add(current, -2), period_add(current, -1)
    _invoice(acme, m1, "100.00")
    _invoice(acme, m2, "130.00")
    _invoice(acme, current, "40.00", status="draft")
    _invoice(globex, m1, "60.00")
    _invoice(globex, m2, "60.00")  # churned from the start of m2: it does not count
    _invoice(paris, m2, "999.00")  # another currency
    CreditNote.objects.create(
        account=acme, number="CN-1", amount=D("10.00"), currency="USD", reason="goodwill",
        created_at=period_bounds(m2, "UTC")[0].replace(day=5),
    )  # fmt: skip
    account_lifecycle_set(account=globex, status="churned", effective_at=period_bounds(m2, "UTC")[0], changed_by="olga")
    contract_version_create(
        account=acme,
        document={
            "effective_from": "2020-01-01",
            "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
            "platform_fee": {"name": "Platform fee", "amount": "50.00", "included_outcomes": 10},
        },
    )
    finance = Client()
    finance.force_login(factories.make_user(Role.VENDOR_FINANCE, None, "ana"))
    return {
        "api": Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}"),
        "page": finance,
        "periods": (m1, m2, current),
    }


def test_revenue_hand_computed(world):
    m1, m2, current = world["periods"]
    body = world["api"].get("/api/v1/finance/revenue?months=3&currency=USD").json()
    assert body["months"] == [
        {"period": m1, "revenue": "160.00", "credits": "0.00", "net": "160.00", "draft": False},
        {"period": m2, "revenue": "130.00", "credits": "10.00", "net": "120.00", "draft": False},
        {"period": current, "revenue": "40.00", "credits": "0.00", "net": "40.00", "draft": True},
    ]
    assert (body["mrr"], body["arr"], body["contracted_arr"]) == ("120.00", "1440.00", "600.00")
    assert body["cohorts"] == [
        {
            "cohort": m1, "compared_with": m2, "accounts": 2, "start": "160.00",
            "nrr": "0.7500",  # (160 + 20 − 0 − 60) / 160: acme 100 → 120, globex churned
            "grr": "0.6250",  # (160 − 60) / 160
            "expansion": "20.00", "contraction": "0.00", "churn": "60.00",
        }
    ]  # fmt: skip
    euro = world["api"].get("/api/v1/finance/revenue?months=3&currency=EUR").json()
    assert (euro["currency"], euro["mrr"]) == ("EUR", "999.00")


def test_the_api_the_page_and_the_csv_give_the_same_figures(world):
    api = world["api"].get("/api/v1/finance/revenue?months=3&currency=USD").json()
    page = world["page"].get("/finance/revenue/?months=3&currency=USD")
    assert page.status_code == 200
    body = page.content.decode()

    def usd(amount: str) -> str:  # the page writes the API's amounts as money
        return formatting.money(D(amount), "USD")

    assert usd(api["mrr"]) in body and usd(api["arr"]) in body and usd(api["contracted_arr"]) in body
    for month in api["months"]:
        assert usd(month["net"]) in body
    response = world["page"].get("/finance/revenue.csv?months=3&currency=USD")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows == [
        {"currency": "USD", **{k: ("true" if v else "false") if isinstance(v, bool) else v for k, v in m.items()}}
        for m in api["months"]
    ]
