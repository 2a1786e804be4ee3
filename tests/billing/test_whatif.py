"""What-if repricing (billing.whatif): closed months priced again under a candidate contract.

The property: priced under the contract actually in force, every closed month comes back as it was
invoiced — total, lines and the carry into the next month — to the cent, for every pricing model,
after random months of outcomes, late outcomes, disputes credited, deductions and credit notes.
Then hand-computed candidates: a price change, and a per-conversation basis that counts attempts.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from billing.contracts import terms_load, terms_parse
from billing.ingestion import outcomes_settle
from billing.invoices.models import Invoice
from billing.services import credit_note_issue, invoice_finalize
from billing.whatif.preview import contract_preview
from tests import factories
from tests.billing.helpers import contract, post
from tests.billing.test_money_truth import KINDS, LEAD, MODELS, RES, deducted, dispute_credited

AUGUST = datetime(2026, 8, 10, tzinfo=UTC)
MONTHS = ("2026-05", "2026-06", "2026-07")

month_steps = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.integers(1, 6), st.sampled_from(sorted(KINDS)),
                  st.sampled_from(["", "simple", "complex"]), st.sampled_from([None, "40.00", "250.55"])),
        st.tuples(st.just("settle")),
        st.tuples(st.just("dispute"), st.integers(0, 50)),
        st.tuples(st.just("deduct"), st.integers(0, 50)),
    ),
    min_size=1,
    max_size=5,
)  # fmt: skip
month_plan = st.tuples(month_steps, st.integers(0, 3), st.sampled_from([None, "3.00", "500.00"]))

_accounts = itertools.count(1)
# Every model of the money-truth test, and a guarantee of 100 % (any failure is a shortfall). Its credit
# needs the attainment its invoice was checked with: late outcomes settling after the month closed
# must not move it.
WHATIF_MODELS = {
    **MODELS,
    "guarantee": {
        "prices": [{"outcome_type": RES, "model": "unit", "price": "0.99"}],
        "guarantee": {"outcome_type": RES, "min_attainment": "1", "credit_percent_per_point": "2.5"},
    },
}


@pytest.fixture
def types(db):
    factories.make_outcome_type()
    factories.make_outcome_type(LEAD, unit_price="4.00", measurement_window_hours=48)


def _first(period: str) -> datetime:
    return datetime(int(period[:4]), int(period[5:]), 1, tzinfo=UTC)


def _live_month(account, period: str, plan) -> None:
    """A month of random steps, a few outcomes on its last evening (they settle after it closes:
    late), its invoice finalized on the 1st, and maybe a credit note on it."""
    steps, late, note = plan
    at = _first(period) + timedelta(days=4, hours=9)
    for n, step in enumerate(steps):
        if step[0] == "post":
            _, count, kind, complexity, value = step
            fields = dict(KINDS[kind], complexity=complexity) if complexity else dict(KINDS[kind])
            if value is not None:
                fields["value_amount"] = value
            post(account, count, at=at, prefix=f"{period}-s{n}", **fields)
        elif step[0] == "dispute":
            dispute_credited(account, step[1], at)
        elif step[0] == "deduct":
            deducted(account, step[1], at)
        else:
            outcomes_settle(now=at + timedelta(days=3, hours=1))
        at += timedelta(days=2)
    month_end = _first(MONTHS[MONTHS.index(period) + 1]) if period != MONTHS[-1] else datetime(2026, 8, 1, tzinfo=UTC)
    if late:
        post(account, late, at=month_end - timedelta(hours=3), prefix=f"{period}-late")
    close = month_end + timedelta(hours=2)
    outcomes_settle(now=close)
    invoice = invoice_finalize(account=account, period=period, now=close).invoice
    if note is not None and invoice.total > 0:
        credit_note_issue(account=account, amount=min(D(note), invoice.total), reason="goodwill", invoice_id=invoice.pk)


@pytest.mark.parametrize("model", sorted(WHATIF_MODELS))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.tuples(month_plan, month_plan, month_plan))
def test_the_contract_in_force_reprices_every_month_as_invoiced(types, model, plans):
    account = factories.make_account(f"{model}-{next(_accounts)}")
    document = WHATIF_MODELS[model]
    version = contract(account, effective_from="2026-05-01", **document) if document else None
    for period, plan in zip(MONTHS, plans, strict=True):
        _live_month(account, period, plan)
    outcomes_settle(now=AUGUST)
    terms = terms_load(version.terms) if version else None
    preview = contract_preview(account=account, terms=terms, months=3, now=AUGUST)
    invoices = {inv.period: inv for inv in Invoice.objects.filter(account=account)}
    assert [m.period for m in preview.months] == list(MONTHS)
    for month in preview.months:
        invoice = invoices[month.period]
        assert month.invoice == invoice.number
        assert month.candidate_total == invoice.total == month.actual_total, month.period
        assert month.difference == 0
        lines = [(ln.kind, ln.quantity, ln.amount) for ln in invoice.lines.order_by("position")]
        assert [(ln.kind, ln.quantity, ln.amount) for ln in month.candidate.lines] == lines
        assert month.candidate.carry_out.as_dict() == invoice.carry_out
    assert preview.difference == 0


def _world(account, *, resolved: int, abandoned: int = 0) -> None:
    post(account, resolved, at=datetime(2026, 6, 12, 10, tzinfo=UTC), prefix="ok")
    if abandoned:
        post(account, abandoned, at=datetime(2026, 6, 13, 10, tzinfo=UTC), prefix="ab", failure_reason="abandoned")
    outcomes_settle(now=datetime(2026, 7, 5, tzinfo=UTC))
    invoice_finalize(account=account, period="2026-06", now=datetime(2026, 7, 5, tzinfo=UTC))


def _terms(**document):
    return terms_parse({"effective_from": "2026-05-01", **document})


def _unit(price: str):
    return _terms(prices=[{"outcome_type": RES, "model": "unit", "price": price}])


def test_a_price_change_reprices_the_months_outcomes(types):
    account = factories.make_account("acme")
    contract(account, effective_from="2026-05-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    _world(account, resolved=10)
    candidate = _terms(
        prices=[{"outcome_type": RES, "model": "unit", "price": "1.50"}],
        platform_fee={"amount": "20.00", "included_outcomes": 4},
    )
    (june,) = contract_preview(account=account, terms=candidate, months=12, now=AUGUST).months
    assert (june.period, june.actual_total) == ("2026-06", D("9.90"))
    assert june.candidate_total == D("29.00")  # $20 fee including 4, then 6 × $1.50
    assert june.difference == D("19.10")
    assert Invoice.objects.get(account=account, period="2026-06").total == D("9.90")  # nothing stored


def test_a_per_conversation_candidate_counts_the_months_attempts(types):
    account = factories.make_account("acme")
    contract(account, effective_from="2026-05-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    _world(account, resolved=5, abandoned=3)
    candidate = _terms(basis="per_conversation", prices=[{"outcome_type": RES, "model": "unit", "price": "0.40"}])
    (june,) = contract_preview(account=account, terms=candidate, months=1, now=AUGUST).months
    assert june.actual_total == D("4.95")
    assert june.candidate_total == D("3.20")  # 8 conversations × $0.40
    back = contract_preview(account=account, terms=_unit("0.99"), months=1, now=AUGUST)
    assert back.months[0].candidate_total == D("4.95")  # attempts leave again under a per-resolution contract


def test_only_closed_finalized_months_the_last_n_oldest_first(types):
    account = factories.make_account("acme")
    contract(account, effective_from="2026-05-01", prices=[{"outcome_type": RES, "model": "unit", "price": "1.00"}])
    for period, n in (("2026-05", 2), ("2026-06", 3), ("2026-07", 4)):
        post(account, n, at=_first(period) + timedelta(days=3), prefix=period)
        close = _first(period) + timedelta(days=36)  # the 5th or 6th of the next month
        outcomes_settle(now=close)
        invoice_finalize(account=account, period=period, now=close)
    post(account, 5, at=AUGUST - timedelta(days=2), prefix="aug")  # August: under way, a draft
    preview = contract_preview(account=account, terms=_unit("2.00"), months=2, now=AUGUST)
    assert [(m.period, m.actual_total, m.candidate_total) for m in preview.months] == [
        ("2026-06", D("3.00"), D("6.00")),
        ("2026-07", D("4.00"), D("8.00")),
    ]
    assert (preview.actual_total, preview.candidate_total, preview.difference) == (D("7.00"), D("14.00"), D("7.00"))


# --- The API, the page and the CSV ---------------------------------------------------------------


@pytest.fixture
def june_account(types):
    account = factories.make_account("acme")
    contract(account, effective_from="2026-05-01", prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    _world(account, resolved=10)
    return account


CANDIDATE = {"prices": [{"outcome_type": RES, "model": "unit", "price": "1.50"}]}


def test_the_api_the_page_and_the_csv_show_the_same_figures(june_account, client):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")
    response = api.post("/api/v1/accounts/acme/contract/preview", {"contract": CANDIDATE, "months": 3},
                        content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["account"], body["currency"], body["months"]) == ("acme", "USD", 1)
    (june,) = body["periods"]
    assert (june["period"], june["actual_total"], june["candidate_total"], june["difference"]) == (
        "2026-06", "9.90", "15.00", "5.10"
    )  # fmt: skip
    assert [ln["amount"] for ln in june["candidate_lines"]] == ["15.00"]
    assert (body["actual_total"], body["candidate_total"], body["difference"]) == ("9.90", "15.00", "5.10")

    client.force_login(factories.make_user(Role.VENDOR_FINANCE, None, username="fin"))
    query = {"account": "acme", "months": 3, "contract": json.dumps(CANDIDATE)}
    page = client.get("/finance/whatif/", query)
    assert page.status_code == 200
    assert page.context["body"] == body
    assert "+$5.10" in page.content.decode()  # the difference, signed, in the account's currency
    csv = client.get("/finance/whatif.csv", query).content.decode().splitlines()
    assert csv == [
        "account,currency,period,invoice,actual_total,candidate_total,difference",
        f"acme,USD,2026-06,{june['invoice']},9.90,15.00,5.10",
        "acme,USD,total,,9.90,15.00,5.10",
    ]


def test_the_page_starts_from_the_contract_in_force(june_account, client):
    client.force_login(factories.make_user(Role.VENDOR_OPERATOR, None, username="op"))
    page = client.get("/finance/whatif/", {"account": "acme", "months": 12})
    assert page.context["body"]["difference"] == "0.00"  # the contract in force reprices as invoiced
    assert json.loads(page.context["form"].data["contract"])["prices"][0]["price"] == "0.99"


def test_bad_candidates_are_refused_with_the_field_named(june_account):
    api = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")

    def post_preview(body):
        return api.post("/api/v1/accounts/acme/contract/preview", body, content_type="application/json")

    unknown = post_preview({"contract": {"prices": [{"outcome_type": "nope", "model": "unit", "price": "1"}]}})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "validation_error"
    assert list(unknown.json()["error"]["fields"]) == ["contract.prices.0.outcome_type"]
    assert list(post_preview({"months": 0, "contract": CANDIDATE}).json()["error"]["fields"]) == ["months"]
    assert list(post_preview({"months": 3}).json()["error"]["fields"]) == ["contract"]
    assert list(post_preview({"contract": CANDIDATE, "month": 3}).json()["error"]["fields"]) == ["month"]
    assert post_preview([1]).status_code == 400
    missing = api.post("/api/v1/accounts/nobody/contract/preview", {"contract": CANDIDATE},
                       content_type="application/json")  # fmt: skip
    assert missing.status_code == 404


def test_customers_and_support_are_refused(june_account, client):
    customer = Client(HTTP_AUTHORIZATION=f"Bearer {factories.account_key(june_account, Role.CUSTOMER_ADMIN)}")
    response = customer.post("/api/v1/accounts/acme/contract/preview", {"contract": CANDIDATE},
                             content_type="application/json")  # fmt: skip
    assert response.status_code == 403
    for role, account in ((Role.CUSTOMER_ADMIN, june_account), (Role.VENDOR_SUPPORT, None)):
        client.force_login(factories.make_user(role, account, username=f"u-{role}"))
        assert client.get("/finance/whatif/", {"account": "acme"}).status_code == 403


def test_a_guarantee_is_priced_with_the_attainment_its_invoice_was_checked_with(types):
    account = factories.make_account("acme")
    version = contract(account, effective_from="2026-05-01", **WHATIF_MODELS["guarantee"])
    post(account, 8, at=datetime(2026, 6, 10, 9, tzinfo=UTC), prefix="ok")
    post(account, 2, at=datetime(2026, 6, 11, 9, tzinfo=UTC), prefix="ab", failure_reason="abandoned")
    post(account, 3, at=datetime(2026, 6, 30, 21, tzinfo=UTC), prefix="late")  # pending when June closes
    close = datetime(2026, 7, 1, 2, tzinfo=UTC)
    outcomes_settle(now=close)
    june = invoice_finalize(account=account, period="2026-06", now=close).invoice
    # 8 billable of 10 attempted: 20 points below 100 %, 2.5 % a point = 50 % of $7.92.
    assert june.attainment == [{"outcome_type": RES, "billable": 8, "attempted": 10}]
    assert [(ln.kind, ln.amount) for ln in june.lines.order_by("position")] == [
        ("outcome", D("7.92")),
        ("guarantee_credit", D("-3.96")),
    ]
    outcomes_settle(now=datetime(2026, 7, 5, tzinfo=UTC))  # the late three settle: June reads 11 of 13 now
    (month,) = contract_preview(account=account, terms=terms_load(version.terms), months=1, now=AUGUST).months
    assert month.candidate_total == june.total == D("3.96")
    stricter = _terms(
        prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}],
        guarantee={"outcome_type": RES, "min_attainment": "1", "credit_percent_per_point": "5"},
    )
    (month,) = contract_preview(account=account, terms=stricter, months=1, now=AUGUST).months
    assert month.candidate_total == D("0.00")  # 20 points × 5 % = all of the month's outcome charges
