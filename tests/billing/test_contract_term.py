"""A contract's term and renewal (issue 14, point 5): the dates of each term, the notice deadline,
the words on the plan page and in the API, the vendor's renewals page, and plans leaving an
account's own term alone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountLifecycleChange, Role
from billing.contract_term import months_after, term_state
from billing.contracts import TermsInvalid, terms_json, terms_parse
from billing.plans.documents import plan_document_parse
from billing.plans.models import PlanMember
from billing.plans.services import plan_assign, plan_create
from billing.pricing.terms import ContractTerm
from billing.selectors import contract_term_latest
from tests import factories
from tests.billing.helpers import contract
from tests.conftest import key_client

RES = "resolved_conversation"
UNIT = {"outcome_type": RES, "model": "unit", "price": "0.99"}


def _term(starts: str, **fields) -> ContractTerm:
    return terms_parse({"effective_from": "2026-01-01", "term": {"starts": starts, **fields}}).term


# --- The dates (pure) ---------------------------------------------------------------------------


def test_a_first_term_runs_its_months_and_ends_the_day_before():
    state = term_state(_term("2026-01-01"), on=date(2026, 6, 30))
    assert (state.number, state.starts, state.last_day) == (1, date(2026, 1, 1), date(2026, 12, 31))
    assert state.renews and state.next_day == date(2027, 1, 1)
    assert state.notice_by == date(2026, 12, 2)  # 30 days before the renewal


def test_a_renewing_term_counts_its_renewals_and_each_renewal_lasts_renewal_months():
    term = _term("2025-03-15", months=24, renewal_months=6, notice_days=60)
    assert term_state(term, on=date(2027, 3, 14)).number == 1
    state = term_state(term, on=date(2027, 3, 15))
    assert (state.number, state.starts, state.last_day) == (2, date(2027, 3, 15), date(2027, 9, 14))
    state = term_state(term, on=date(2028, 1, 1))
    assert (state.number, state.starts, state.last_day) == (3, date(2027, 9, 15), date(2028, 3, 14))
    assert state.notice_by == date(2028, 3, 15) - timedelta(days=60)


def test_a_term_from_the_31st_never_drifts_to_a_shorter_months_day():
    term = _term("2026-01-31", months=1, renewal_months=1)
    assert term_state(term, on=date(2026, 2, 10)).last_day == date(2026, 2, 27)  # ends before 28 Feb
    state = term_state(term, on=date(2026, 5, 5))
    assert (state.starts, state.last_day) == (date(2026, 4, 30), date(2026, 5, 30))
    assert months_after(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_a_term_without_renewal_ends_and_says_so():
    term = _term("2026-06-01", months=6, renewal="none")
    running = term_state(term, on=date(2026, 11, 30))
    assert (running.ended, running.renews, running.notice_by, running.last_day) == (
        False,
        False,
        None,
        date(2026, 11, 30),
    )
    after = term_state(term, on=date(2026, 12, 1))
    assert after.ended and after.number == 1 and after.last_day == date(2026, 11, 30)
    assert term_state(term, on=date(2026, 5, 31)).not_started


def test_a_decision_is_soon_when_the_notice_date_or_the_end_is_near():
    renewing = _term("2026-01-01")  # notice by 2 Dec 2026
    assert term_state(renewing, on=date(2026, 11, 2)).notice_soon(30)
    assert not term_state(renewing, on=date(2026, 11, 1)).notice_soon(30)
    assert not term_state(renewing, on=date(2026, 12, 3)).notice_soon(30)  # passed: it renews
    ending = _term("2026-01-01", renewal="none")
    assert term_state(ending, on=date(2026, 12, 20)).notice_soon(30)
    assert not term_state(ending, on=date(2027, 1, 1)).notice_soon(30)  # ended


# --- The document -------------------------------------------------------------------------------


def test_the_term_round_trips_through_the_document():
    doc = {"effective_from": "2026-01-01", "term": {"starts": "2026-01-15", "months": 24, "notice_days": 60}}
    written = terms_json(terms_parse(doc))["term"]
    assert written == {"starts": "2026-01-15", "months": 24, "renewal": "auto", "renewal_months": 24,
                       "notice_days": 60}  # fmt: skip
    assert terms_json(terms_parse({"effective_from": "2026-01-01", "term": written}))["term"] == written
    ending = terms_json(terms_parse({"effective_from": "2026-01-01", "term": {"starts": "2026-01-01",
                                                                              "renewal": "none"}}))  # fmt: skip
    assert ending["term"]["renewal_months"] is None
    assert "term" not in terms_json(terms_parse({"effective_from": "2026-01-01"}))


@pytest.mark.parametrize(
    ("term", "field"),
    [
        ({}, "term.starts"),
        ({"starts": "2026-02-30"}, "term.starts"),
        ({"starts": "2026-01-01", "months": 0}, "term.months"),
        ({"starts": "2026-01-01", "months": 121}, "term.months"),
        ({"starts": "2026-01-01", "renewal": "monthly"}, "term.renewal"),
        ({"starts": "2026-01-01", "renewal": "none", "renewal_months": 12}, "term.renewal_months"),
        ({"starts": "2026-01-01", "notice_days": -1}, "term.notice_days"),
        ({"starts": "2026-01-01", "ends": "2026-12-31"}, "term.ends"),
    ],
)
def test_a_bad_term_is_refused_on_its_field(term, field):
    with pytest.raises(TermsInvalid) as refused:
        terms_parse({"effective_from": "2026-01-01", "term": term})
    assert field in refused.value.fields


def test_a_plan_holds_no_term_and_an_account_keeps_its_own_on_joining_one(db):
    factories.make_outcome_type(RES)
    with pytest.raises(TermsInvalid) as refused:
        plan_document_parse({"prices": [UNIT], "term": {"starts": "2026-01-01"}}, known_types={RES})
    assert set(refused.value.fields) == {"term"}
    acme = factories.make_account("acme")
    contract(acme, prices=[UNIT], term={"starts": "2026-01-01", "months": 12, "notice_days": 45})
    plan = plan_create(code="growth", name="Growth", document={"prices": [UNIT]}, now=datetime(2026, 3, 1, tzinfo=UTC))
    plan_assign(plan=plan, accounts=[acme], now=datetime(2026, 3, 1, tzinfo=UTC))
    assert PlanMember.objects.get(account=acme).overrides["term"]["notice_days"] == 45
    assert contract_term_latest(account_id=acme.pk) == ContractTerm(starts=date(2026, 1, 1), notice_days=45)


# --- Where it is read: plan page, API, renewals page -------------------------------------------------


def _today() -> date:
    return timezone.localdate()


@pytest.fixture
def acme(db):
    factories.make_outcome_type(RES)
    return factories.make_account("acme", name="Acme Support")


def test_the_plan_page_and_the_api_state_the_term_as_last_agreed(acme):
    starts = months_after(_today() + timedelta(days=40), -12)  # the term ends in 39 days, notice due in 9
    contract(acme, effective_from=starts.isoformat(), prices=[UNIT],
             term={"starts": starts.isoformat(), "months": 12, "notice_days": 30})  # fmt: skip
    admin = Client()
    admin.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    page = admin.get("/account/acme/plan/").content.decode()
    ends = starts.replace(year=starts.year + 1) - timedelta(days=1)
    assert "Contract term:" in page and "renews automatically for 12 months" in page
    body = key_client(acme, Role.VIEWER).get("/api/v1/accounts/acme/contract").json()
    assert body["term"]["ends"] == ends.isoformat()
    assert body["term"]["status"] == "running" and body["term"]["renewal"] == "auto"
    assert body["term"]["notice_by"] == (ends + timedelta(days=1) - timedelta(days=30)).isoformat()
    assert body["term"]["sentence"] in page
    # Notice of non-renewal, saved as a version dated next month, counts from today.
    nxt = months_after(_today().replace(day=1), 1)
    contract(acme, effective_from=nxt.isoformat(), prices=[UNIT],
             term={"starts": starts.isoformat(), "months": 12, "renewal": "none"})  # fmt: skip
    body = key_client(acme, Role.VIEWER).get("/api/v1/accounts/acme/contract").json()
    assert body["term"]["renewal"] == "none" and body["term"]["notice_by"] is None
    assert "does not renew" in admin.get("/account/acme/plan/").content.decode()


def test_an_account_without_a_term_says_nothing_of_one(acme):
    contract(acme, prices=[UNIT])
    assert key_client(acme, Role.VIEWER).get("/api/v1/accounts/acme/contract").json()["term"] is None
    admin = Client()
    admin.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    assert "Contract term" not in admin.get("/account/acme/plan/").content.decode()


def test_the_contract_answer_reads_the_versions_once(acme):
    starts = _today().replace(day=1)
    contract(acme, effective_from=starts.isoformat(), prices=[UNIT], term={"starts": starts.isoformat(), "months": 12})
    client = key_client(acme, Role.VIEWER)
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/v1/accounts/acme/contract").json()
    assert sum("billing_contractversion" in q["sql"] for q in queries) == 1  # the term is the latest one's
    assert body["term"]["sentence"] in body["plan"]


def test_the_contract_api_saves_a_term_and_refuses_a_bad_one(acme):
    vendor = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    doc = {"effective_from": "2026-06-01", "prices": [UNIT], "term": {"starts": "2026-06-01", "months": 12}}
    assert (
        vendor.put("/api/v1/accounts/acme/contract", json.dumps(doc), content_type="application/json").status_code
        == 201
    )
    bad = vendor.put("/api/v1/accounts/acme/contract", json.dumps({**doc, "term": {"months": 12}}),
                     content_type="application/json")  # fmt: skip
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"term.starts"}


def test_the_renewals_page_puts_the_next_decision_first_and_is_the_vendors_alone(acme):
    today = _today()
    soon = factories.make_account("soon", name="Soon Corp")
    ended = factories.make_account("ended", name="Ended Ltd")
    later = factories.make_account("later", name="Later Inc")
    gone = factories.make_account("gone", name="Gone Co")
    bare = factories.make_account("bare", name="Bare Co")
    contract(soon, prices=[UNIT], term={"starts": months_after(today + timedelta(days=40), -12).isoformat()})
    contract(ended, prices=[UNIT], term={"starts": months_after(today, -7).isoformat(), "months": 6,
                                         "renewal": "none"})  # fmt: skip
    contract(later, prices=[UNIT], term={"starts": today.isoformat(), "months": 24})
    contract(gone, prices=[UNIT], term={"starts": today.isoformat()})
    contract(bare, prices=[UNIT])
    yesterday = timezone.now() - timedelta(days=1)
    AccountLifecycleChange.objects.create(account=gone, status="churned", effective_at=yesterday, changed_by="test",
                                          changed_at=yesterday)  # fmt: skip
    staff = Client()
    staff.force_login(factories.make_user(Role.VENDOR_SUPPORT, None, username="sam"))
    page = staff.get("/vendor/renewals/")
    assert page.status_code == 200
    text = page.content.decode()
    table = text[text.index("<tbody>") :]  # (the header's account picker names every account)
    order = [table.index(name) for name in ("Ended Ltd", "Soon Corp", "Later Inc")]
    assert order == sorted(order)
    assert "Gone Co" not in table
    assert "No term on the contract of 1 account" in text and "Bare Co" in text
    assert "Notice due" in text and "Ended " in text
    assert "1 contract needs a decision within 30 days; 1 contract ended without renewal" in text
    customer = Client()
    customer.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    assert customer.get("/vendor/renewals/").status_code == 403
