"""The Credits section of the spend page, the top-up form's permissions, and GET /api/v1/accounts/{id}/credits."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from billing.credits.models import CreditLedgerEntry
from billing.credits.services import credit_summary, credits_grant
from billing.ingestion import outcomes_settle
from billing.invoices.models import Invoice, InvoiceLine
from outcomeportal.core.periods import period_at
from tests import factories
from tests.billing.helpers import contract, post
from tests.conftest import key_client
from tests.credits.helpers import LEAD, RES, at, credit_contract, outcome_types


@pytest.fixture
def acme(db):
    outcome_types()
    account = factories.make_account("acme", name="Acme Support")
    credit_contract(account)
    return account


@pytest.fixture
def globex(db):
    account = factories.make_account("globex", name="Globex")
    credit_contract(account)
    return account


def login(account, role) -> Client:
    client = Client()
    client.force_login(factories.make_user(role, account))
    return client


def spend_url(account) -> str:
    return f"/account/{account.external_id}/spend/"


def topup_url(account) -> str:
    return f"/account/{account.external_id}/spend/credits/topup"


def form_key(page: str) -> str:
    return re.search(r'name="key" value="([^"]+)"', page).group(1)


def snapshot() -> tuple[int, int, int]:
    return CreditLedgerEntry.objects.count(), Invoice.objects.count(), InvoiceLine.objects.count()


# --- The page ---------------------------------------------------------------------------------------


def test_finance_admin_buys_a_top_up_on_the_spend_page(acme):
    client = login(acme, Role.FINANCE_ADMIN)
    page = client.get(spend_url(acme)).content.decode()
    assert 'id="credits"' in page and "1 credit = $0.02" in page
    assert "500 credits — $10.00" in page and "2,500 credits — $50.00" in page
    assert "Buy top-up" in page
    response = client.post(topup_url(acme), {"pack": "1000", "key": form_key(page)})
    assert response.status_code == 302 and response["Location"] == f"{spend_url(acme)}#credits"
    entry = CreditLedgerEntry.objects.get()
    period = period_at(timezone.now(), acme.timezone)
    assert (entry.kind, entry.credits, entry.amount, entry.period) == ("topup", D(1000), D("20.00"), period)
    assert Invoice.objects.get(pk=entry.invoice_id).lines.get(kind="topup").amount == D("20.00")
    page = client.get(spend_url(acme)).content.decode()
    assert "Top-up: 1,000 credits for $20.00" in page
    assert "+1,000" in page and "≈ $20.00" in page


def test_the_same_form_sent_twice_buys_once(acme):
    client = login(acme, Role.FINANCE_ADMIN)
    key = form_key(client.get(spend_url(acme)).content.decode())
    for _ in range(2):
        assert client.post(topup_url(acme), {"pack": "500", "key": key}).status_code == 302
    assert CreditLedgerEntry.objects.count() == 1
    assert "already bought" in client.get(spend_url(acme)).content.decode()


def test_an_unknown_pack_is_refused_with_the_field_named(acme):
    client = login(acme, Role.FINANCE_ADMIN)
    key = form_key(client.get(spend_url(acme)).content.decode())
    before = snapshot()
    response = client.post(topup_url(acme), {"pack": "700", "key": key})
    assert response.status_code == 400
    assert "Select a valid choice. 700 is not one of the available choices." in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("customer_admin", 403),
        ("viewer", 403),
        ("vendor_operator", 403),
        ("vendor_support", 403),
        ("finance_admin_of_globex", 404),
        ("customer_admin_of_globex", 404),
    ],
)
def test_only_the_accounts_finance_admins_buy_and_a_denial_changes_nothing(acme, globex, who, status):
    role, _, other = who.partition("_of_")
    account = globex if other else (None if role.startswith("vendor") else acme)
    client = login(account, role)
    before = snapshot()
    response = client.post(topup_url(acme), {"pack": "500", "key": "a-valid-key-123"})
    assert response.status_code == status
    assert snapshot() == before


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.VIEWER])
def test_other_roles_read_the_ledger_without_the_form(acme, role):
    credits_grant(account=acme, credits=D(150), reason="Dispute 17: counted twice", reference="dispute:17")
    page = login(acme, role).get(spend_url(acme)).content.decode()
    assert "Dispute 17: counted twice" in page and "+150" in page
    assert "Only finance admins can buy top-ups." in page
    assert "Buy top-up" not in page and 'name="key"' not in page


def test_another_accounts_credits_are_not_found(acme, globex):
    client = login(globex, Role.FINANCE_ADMIN)
    assert client.get(spend_url(acme)).status_code == 404


def test_a_money_contract_shows_no_credits_section(db):
    outcome_types()
    account = factories.make_account("initech")
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    client = login(account, Role.FINANCE_ADMIN)
    page = client.get(spend_url(account)).content.decode()
    assert 'id="credits"' not in page
    assert client.post(topup_url(account), {"pack": "500", "key": "a-valid-key-123"}).status_code == 400
    assert not CreditLedgerEntry.objects.exists()


def test_the_ledger_pages_from_newest_to_oldest(acme):
    now = timezone.now()
    for n in range(30):
        credits_grant(account=acme, credits=D(n + 1), reason=f"grant {n + 1}", reference=f"grant:{n + 1}",
                      kind="adjustment", now=now - timedelta(minutes=60 - n))  # fmt: skip
    client = login(acme, Role.VIEWER)
    first = client.get(spend_url(acme)).content.decode()
    assert "grant 30" in first and "grant 6<" in first and "grant 5<" not in first
    older = re.search(r'href="\?ledger_before=([^"#]+)#credits"', first).group(1)
    second = client.get(f"{spend_url(acme)}?ledger_before={older}").content.decode()
    assert "grant 5<" in second and "grant 1<" in second and "grant 6<" not in second
    assert client.get(f"{spend_url(acme)}?ledger_before=garbage").status_code == 200  # starts over


# --- The selector behind both ------------------------------------------------------------------------


def test_usage_so_far_counts_pending_and_billed_credits_of_the_period(acme):
    post(acme, 4, at=at(6, 10))  # 200 credits, settled (billable) by June 20
    post(acme, 1, at=at(6, 19), outcome_type=LEAD)  # 100 credits, still pending on June 20
    post(acme, 2, at=at(5, 30), prefix="may")  # another month
    outcomes_settle(now=at(6, 20))
    summary = credit_summary(account=acme, now=at(6, 20))
    assert (summary.period, summary.billed, summary.pending, summary.used_so_far) == ("2026-06", 200, 100, 300)
    assert (summary.included, summary.rollover, summary.credit_price, summary.balance) == (1000, True, D("0.02"), 0)


# --- The API -----------------------------------------------------------------------------------------


def test_api_balance_and_ledger_newest_first_with_running_balance(acme):
    now = timezone.now()
    for n, credits in enumerate(["100", "250.5", "-50"]):
        credits_grant(account=acme, credits=D(credits), reason=f"line {n}", reference=f"adj:{n}", kind="adjustment",
                      now=now - timedelta(minutes=10 - n))  # fmt: skip
    body = key_client(acme, Role.VIEWER).get("/api/v1/accounts/acme/credits").json()
    assert {k: body[k] for k in ("account", "currency", "unit", "credit_price", "balance", "balance_value")} == {
        "account": "acme",
        "currency": "USD",
        "unit": "credits",
        "credit_price": "0.02",
        "balance": "300.5",
        "balance_value": "6.01",
    }
    assert body["period_credits"]["included"] == "1000"
    assert [(r["note"], r["credits"], r["balance_after"]) for r in body["results"]] == [
        ("line 2", "-50", "300.5"),
        ("line 1", "250.5", "350.5"),
        ("line 0", "100", "100"),
    ]
    assert body["results"][0]["kind"] == "adjustment" and body["next_cursor"] is None


def test_api_pages_with_a_cursor(acme):
    now = timezone.now()
    for n in range(5):
        credits_grant(account=acme, credits=D(10), reason=f"line {n}", reference=f"adj:{n}", kind="adjustment",
                      now=now - timedelta(minutes=10 - n))  # fmt: skip
    client = key_client(acme, Role.FINANCE_ADMIN)
    seen, cursor = [], ""
    while True:
        body = client.get(f"/api/v1/accounts/acme/credits?limit=2{cursor}").json()
        seen += [(r["note"], r["balance_after"]) for r in body["results"]]
        if not body["next_cursor"]:
            break
        cursor = f"&cursor={body['next_cursor']}"
    assert seen == [(f"line {n}", str(10 * (n + 1))) for n in reversed(range(5))]


def test_api_refuses_bad_queries_and_other_accounts(acme, globex):
    client = key_client(acme, Role.VIEWER)
    assert client.get("/api/v1/accounts/acme/credits?limit=0").json()["error"]["fields"] == {"limit": ["1 to 500."]}
    assert client.get("/api/v1/accounts/acme/credits?cursor=nonsense").status_code == 400
    assert client.get("/api/v1/accounts/globex/credits").status_code == 404
    assert key_client(globex, Role.FINANCE_ADMIN).get("/api/v1/accounts/acme/credits").status_code == 404
