"""Plans: named price books many accounts follow, with overrides; every change writes contract
versions from each account's next period (billing.plans)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from billing.contracts import TermsInvalid
from billing.invoices.models import ContractVersion
from billing.plans.documents import document_merged, plan_document_parse
from billing.plans.models import Plan, PlanMember
from billing.plans.services import (
    PlanRefused,
    member_leave,
    member_overrides_set,
    plan_assign,
    plan_create,
    plan_publish,
)
from billing.selectors import contract_for_period
from tests import factories

pytestmark = pytest.mark.django_db

# 31 March 2026, 20:00 UTC: still March in New York, already 1 April in Tokyo.
NOW = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)
GROWTH = {
    "platform_fee": {"amount": "1500.00", "included_outcomes": 1000},
    "prices": [
        {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"},
        {"outcome_type": "qualified_lead", "model": "unit", "price": "25.00"},
    ],
}


@pytest.fixture
def types():
    factories.make_outcome_type("resolved_conversation")
    factories.make_outcome_type("qualified_lead", unit_price="30.00")


def _price(account, period: str, code: str) -> Decimal | None:
    terms = contract_for_period(account_id=account.pk, period=period)[1]
    return next((p.price for p in terms.prices if p.outcome_type == code), None) if terms else None


# --- The documents (pure) ---------------------------------------------------------------------


def test_overrides_replace_fields_and_prices_by_type_keeping_the_plans_order():
    merged = document_merged(
        GROWTH,
        {
            "prices": [
                {"outcome_type": "qualified_lead", "model": "unit", "price": "20.00"},
                {"outcome_type": "meeting_booked", "model": "unit", "price": "5.00"},
            ],
            "payment_terms_days": 45,
            "platform_fee": None,
        },
    )
    assert merged == {
        "prices": [
            {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"},
            {"outcome_type": "qualified_lead", "model": "unit", "price": "20.00"},
            {"outcome_type": "meeting_booked", "model": "unit", "price": "5.00"},
        ],
        "payment_terms_days": 45,
    }
    assert document_merged(GROWTH, {}) == GROWTH


def test_a_plan_document_holds_no_date_and_no_single_customers_deal():
    with pytest.raises(TermsInvalid) as refused:
        plan_document_parse(
            {**GROWTH, "effective_from": "2026-01-01", "commitment": {"amount": "1000", "start": "2026-01"}},
            known_types={"resolved_conversation", "qualified_lead"},
        )
    assert set(refused.value.fields) == {"effective_from", "commitment"}
    with pytest.raises(TermsInvalid) as refused:
        plan_document_parse({"prices": [{"outcome_type": "nope", "model": "unit", "price": "1"}]}, known_types=set())
    assert "prices.0.outcome_type" in refused.value.fields
    assert "effective_from" not in plan_document_parse(GROWTH, known_types={"resolved_conversation", "qualified_lead"})


# --- Moving accounts onto a plan, publishing versions -----------------------------------------


def test_two_accounts_move_onto_a_plan_each_from_its_own_next_period(types):
    ny = factories.make_account("acme", timezone_name="America/New_York")
    tokyo = factories.make_account("kaiju", timezone_name="Asia/Tokyo")
    plan = plan_create(code="growth", name="Growth", document=GROWTH, by="olga", now=NOW)

    change = plan_assign(plan=plan, accounts=[ny, tokyo], by="olga", now=NOW)

    assert {c.account.external_id: c.effective_from for c in change.contracts} == {
        "acme": date(2026, 4, 1),  # March in New York: from April
        "kaiju": date(2026, 5, 1),  # April already in Tokyo: from May
    }
    assert _price(ny, "2026-03", "qualified_lead") is None  # the period under way keeps its prices
    assert _price(ny, "2026-04", "qualified_lead") == Decimal("25.00")
    assert _price(tokyo, "2026-04", "qualified_lead") is None
    assert _price(tokyo, "2026-05", "qualified_lead") == Decimal("25.00")
    assert change.contracts[0].created_by == "plan growth v1 · olga"
    assert PlanMember.objects.filter(plan=plan).count() == 2


def test_publishing_a_version_rewrites_every_members_contract_and_keeps_their_overrides(types):
    acme = factories.make_account("acme")
    globex = factories.make_account("globex")
    plan = plan_create(code="growth", name="Growth", document=GROWTH, now=NOW)
    plan_assign(plan=plan, accounts=[acme], now=NOW)
    plan_assign(
        plan=plan,
        accounts=[globex],
        overrides={"prices": [{"outcome_type": "qualified_lead", "model": "unit", "price": "20.00"}]},
        now=NOW,
    )
    cheaper = {**GROWTH, "prices": [{**GROWTH["prices"][0], "price": "0.89"}, GROWTH["prices"][1]]}
    later = datetime(2026, 4, 15, tzinfo=UTC)

    change = plan_publish(plan=plan, document=cheaper, note="Resolutions at 0.89", by="olga", now=later)

    assert change.version.version == 2
    assert [c.account.external_id for c in change.contracts] == ["acme", "globex"]
    assert _price(acme, "2026-04", "resolved_conversation") == Decimal("0.99")  # April keeps v1
    assert _price(acme, "2026-05", "resolved_conversation") == Decimal("0.89")
    assert _price(globex, "2026-05", "resolved_conversation") == Decimal("0.89")
    assert _price(globex, "2026-05", "qualified_lead") == Decimal("20.00")  # its own price stays
    assert _price(acme, "2026-05", "qualified_lead") == Decimal("25.00")


def test_an_onboarding_override_starts_once_not_again_at_every_plan_change(types):
    acme = factories.make_account("acme")
    plan = plan_create(code="growth", name="Growth", document=GROWTH, now=NOW)
    plan_assign(plan=plan, accounts=[acme], overrides={"onboarding": {"training_days": 14}}, now=NOW)
    plan_publish(plan=plan, document=GROWTH, now=datetime(2026, 6, 10, tzinfo=UTC))

    latest = ContractVersion.objects.filter(account=acme).order_by("-version").first()
    assert latest.effective_from == date(2026, 7, 1)
    assert latest.terms["onboarding"]["starts"] == "2026-04-01"


def test_a_refused_change_writes_nothing(types):
    acme = factories.make_account("acme")
    yen = factories.make_account("tanaka", currency="JPY")
    plan = plan_create(code="growth", name="Growth", document=GROWTH, now=NOW)

    with pytest.raises(PlanRefused) as refused:
        plan_assign(plan=plan, accounts=[acme, yen], now=NOW)
    assert "accounts" in refused.value.fields
    with pytest.raises(PlanRefused) as refused:
        plan_assign(plan=plan, accounts=[acme], overrides={"payment_terms_days": 9999}, now=NOW)
    assert list(refused.value.fields) == ["acme: payment_terms_days"]
    assert not PlanMember.objects.exists()
    assert not ContractVersion.objects.exists()

    plan_assign(plan=plan, accounts=[acme], now=NOW)
    member = PlanMember.objects.get()
    with pytest.raises(PlanRefused):
        member_overrides_set(member=member, overrides={"basis": "per_anything"}, now=NOW)
    assert PlanMember.objects.get().overrides == {}
    assert ContractVersion.objects.count() == 1
    with pytest.raises(PlanRefused):
        plan_create(code="growth", name="Again", document=GROWTH, now=NOW)


def test_an_account_off_the_plan_keeps_its_contract_and_misses_later_versions(types):
    acme = factories.make_account("acme")
    plan = plan_create(code="growth", name="Growth", document=GROWTH, now=NOW)
    plan_assign(plan=plan, accounts=[acme], now=NOW)
    member_leave(member=PlanMember.objects.get())
    change = plan_publish(plan=plan, document={"prices": []}, now=NOW)
    assert change.contracts == []
    assert _price(acme, "2026-04", "qualified_lead") == Decimal("25.00")


# --- The pages ---------------------------------------------------------------------------------


def test_an_operator_creates_a_plan_and_moves_two_accounts_onto_it_in_the_portal(client, types):
    acme, globex = factories.make_account("acme", name="Acme"), factories.make_account("globex", name="Globex")
    client.force_login(factories.make_user(Role.VENDOR_OPERATOR))

    created = client.post(
        "/plans/", {"code": "growth", "name": "Growth", "currency": "USD", "document": json.dumps(GROWTH)}
    )
    assert created.status_code == 302 and created["Location"] == "/plans/growth/"
    page = client.get("/plans/growth/").content.decode()
    assert "Platform fee: $1,500.00 a month, including 1,000 outcomes" in page  # the plan in plain words
    assert "$25.00" in page

    moved = client.post(
        "/plans/growth/accounts/", {"accounts": ["acme", "globex"], "overrides": '{"payment_terms_days": 45}'}
    )
    assert moved.status_code == 302
    assert {m.account_id: m.overrides for m in PlanMember.objects.all()} == {
        acme.pk: {"payment_terms_days": 45},
        globex.pk: {"payment_terms_days": 45},
    }
    assert ContractVersion.objects.filter(account__in=[acme, globex], terms__payment_terms_days=45).count() == 2

    refused = client.post("/plans/growth/", {"document": '{"prices": [{"outcome_type": "nope"}]}'})
    assert refused.status_code == 200
    assert "prices.0.outcome_type" in refused.content.decode()
    assert Plan.objects.get().versions.count() == 1


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.VENDOR_SUPPORT])
def test_only_vendor_operators_change_plans_and_customers_do_not_see_them(client, types, role):
    acme = factories.make_account("acme")
    plan_create(code="growth", name="Growth", document=GROWTH, now=NOW)
    client.force_login(factories.make_user(role, acme if role == Role.CUSTOMER_ADMIN else None))
    read = client.get("/plans/growth/")
    assert read.status_code == (403 if role == Role.CUSTOMER_ADMIN else 200)
    assert client.post("/plans/growth/accounts/", {"accounts": ["acme"]}).status_code == 403
    assert client.post("/plans/", {"code": "x", "name": "X", "currency": "USD", "document": "{}"}).status_code == 403
    assert not PlanMember.objects.exists()


def test_the_contract_page_of_a_member_says_the_plan_writes_its_contract(client, types):
    acme = factories.make_account("acme", name="Acme")
    plan = plan_create(code="growth", name="Growth", document=GROWTH, now=NOW)
    client.force_login(factories.make_user(Role.VENDOR_OPERATOR))
    assert "follows the plan" not in client.get("/account/acme/contract/").content.decode()
    plan_assign(plan=plan, accounts=[acme], now=NOW)
    page = client.get("/account/acme/contract/").content.decode()
    assert 'Acme follows the plan <a href="/plans/growth/">Growth</a>' in page
