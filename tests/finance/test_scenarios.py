"""Attainment scenarios: the pure projection by hand (finance.scenarios), then through the real pipeline —
the API, the page and the CSV give the same figures, and only finance.read sees them."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.test import Client
from django.utils import timezone

from accounts import refcache
from accounts.models import Role
from accounts.services import account_lifecycle_set
from billing.charges import own_spend
from billing.contracts import terms_parse
from billing.ingestion import outcomes_settle
from billing.pricing import Carry, PeriodInput
from billing.services import contract_version_create
from finance import scenario_inputs as scenario_inputs_module
from finance import tasks
from finance.models import ScenarioMonth
from finance.scenario_inputs import scenario_inputs
from finance.scenarios import (
    AccountHistory,
    Memo,
    Scenario,
    TypeHistory,
    baseline_rate,
    project,
    projected_attempted,
    split,
    trend_at,
)
from finance.selectors import default_period
from outcomeportal.core.periods import period_add, period_first_day, periods_between
from tests import factories
from tests.finance.conftest import PAGE_STATUS

RES = "resolved_conversation"
PERIODS = ["2026-07", "2026-08", "2026-09"]


def account(
    attempted, billable, *, terms=None, tiers=(), gain=D(0), min_attainment=None, carry=None, months=3, price="1.00"
):
    inp = PeriodInput(
        period=PERIODS[0],
        currency="USD",
        terms=terms,
        groups=(),
        default_prices=((RES, D(price)),),
        carry_in=carry or Carry(),
    )
    return AccountHistory(
        account="acme",
        currency="USD",
        min_attainment=min_attainment,
        types=(TypeHistory(RES, tuple(attempted), tuple(billable), tuple(tiers), gain),),
        inputs=tuple(PeriodInput(**{**_fields(inp), "period": p}) for p in PERIODS[:months]),
    )


def _fields(inp: PeriodInput) -> dict:
    return {f: getattr(inp, f) for f in inp.__slots__}


def run(acct, scenario: Scenario):
    return project([acct], scenario=scenario, periods=PERIODS[: scenario.months], spend=own_spend)


def figures(projection):
    return [(m.attempted, m.billable, m.rate, m.revenue["USD"], m.churned_accounts) for m in projection.months]


FLAT = account([10] * 6, [8] * 6)  # 10 attempted a month, 8 billable: 0.8000, at 1.00 each (no contract)


# --- The trend ------------------------------------------------------------------------------------


def test_trend_is_the_least_squares_line():
    assert trend_at([(1, D(10)), (2, D(20)), (3, D(30))], 5) == D(50)
    assert trend_at([(1, D(4)), (2, D(2)), (3, D(6))], 4) == D(6)  # mean 4, slope 1, read at x = 4 (mean x 2)
    assert trend_at([(3, D("0.5"))], 9) == D("0.5")  # one point: itself
    assert trend_at([], 9) is None


def test_volume_follows_its_trend_and_never_goes_below_zero():
    assert [projected_attempted((10, 20, 30, 40, 50, 60), k) for k in (1, 2, 3)] == [70, 80, 90]
    assert [projected_attempted((60, 50, 40, 30, 20, 10), k) for k in (1, 2)] == [0, 0]  # 0, then -10 → 0
    assert projected_attempted((1, 2, 1, 2, 1, 2), 1) == 2  # 1.5 + 0.0857 × 3.5 = 1.8 → 2
    # Months before the first outcome are not zeros of a trend: 30, 30, 30 from month 4 → 30.
    assert projected_attempted((0, 0, 0, 30, 30, 30), 1) == 30
    assert projected_attempted((0, 0, 0, 0, 0, 0), 1) == 0
    assert projected_attempted((0, 0, 0, 0, 0, 12), 3) == 12  # one month: flat


def test_baseline_rate_is_the_trend_of_the_months_that_have_one_clamped():
    # 0.90, 0.88 … 0.80: 2 points a month down → 0.78, then 0.76.
    billable = (90, 88, 86, 84, 82, 80)
    assert [baseline_rate((100,) * 6, billable, k) for k in (1, 2)] == [D("0.78"), D("0.76")]
    assert baseline_rate((10,) * 6, (10, 8, 6, 4, 2, 0), 1) == 0  # 1.0 … 0.0: -0.2 at month 7, clamped
    assert baseline_rate((0, 0, 4, 0, 0, 0), (0, 0, 3, 0, 0, 0), 5) == D("0.75")  # one month with a rate
    assert baseline_rate((0,) * 6, (0,) * 6, 1) is None


def test_split_is_by_share_with_the_largest_remainder():
    assert split(10, (("complex", 3), ("simple", 1))) == (("complex", 8), ("simple", 2))  # 7.5 / 2.5, tie → first
    assert split(5, ()) == (("", 5),)


# --- The four scenarios, by hand ------------------------------------------------------------------


def test_baseline_keeps_the_trend():
    assert figures(run(FLAT, Scenario("baseline", 3))) == [(10, 8, D("0.8"), D("8.00"), 0)] * 3


def test_dip_holds_its_depth_for_its_months_then_recovers_at_once():
    result = run(FLAT, Scenario("dip", 3, depth_points=D(10), dip_months=2))
    assert figures(result) == [
        (10, 7, D("0.7"), D("7.00"), 0),  # 0.8000 − 10 points
        (10, 7, D("0.7"), D("7.00"), 0),
        (10, 8, D("0.8"), D("8.00"), 0),  # recovered
    ]


def test_decline_takes_its_points_each_month_billable_rounded_half_up():
    result = run(FLAT, Scenario("decline", 3, points_per_month=D(5)))
    # 0.75 × 10 = 7.5 → 8; 0.70 → 7; 0.65 × 10 = 6.5 → 7.
    assert [m.billable for m in result.months] == [8, 7, 7]
    assert [m.revenue["USD"] for m in result.months] == [D("8.00"), D("7.00"), D("7.00")]


def test_churn_from_the_first_month_the_accounts_rate_is_below_its_threshold():
    acct = account([10] * 6, [8] * 6, min_attainment=D("0.72"))
    result = run(acct, Scenario("churn", 3, points_per_month=D(5)))
    # Month 1: 8 of 10 billable (0.75 × 10 rounds up), 0.8000 — not below; month 2: 7 of 10, 0.7000 < 0.72.
    assert figures(result) == [(10, 8, D("0.8"), D("8.00"), 0), (0, 0, None, D(0), 1), (0, 0, None, D(0), 1)]
    (churn,) = result.churns
    assert (churn.account, churn.period, churn.rate, churn.threshold) == ("acme", "2026-08", D("0.7"), D("0.72"))


def test_churn_threshold_given_overrides_the_accounts_and_equal_is_not_below():
    acct = account([10] * 6, [8] * 6, min_attainment=D("0.9"))
    assert run(acct, Scenario("churn", 3, threshold=D("0.8"))).churns == []  # 0.8000 is not below 0.8
    assert run(acct, Scenario("churn", 3)).churns[0].period == "2026-07"  # its own 0.9: at once
    assert run(account([10] * 6, [8] * 6), Scenario("churn", 3, points_per_month=D(50))).churns == []  # none set


def test_churn_without_points_is_the_baseline():
    acct = account([100] * 6, [90, 88, 86, 84, 82, 80], min_attainment=D("0.77"))
    result = run(acct, Scenario("churn", 3))
    assert [m.billable for m in result.months] == [78, 0, 0]  # 0.78, then 0.76 < 0.77
    assert result.churns[0].period == "2026-08"


# --- Priced as the invoices are -------------------------------------------------------------------


def test_platform_fee_and_included_outcomes_are_priced_each_month():
    terms = terms_parse(
        {
            "effective_from": "2026-01-01",
            "prices": [{"outcome_type": RES, "model": "unit", "price": "2.00"}],
            "platform_fee": {"amount": "100.00", "included_outcomes": 50},
        }
    )
    result = run(account([100] * 6, [60] * 6, terms=terms), Scenario("baseline", 3))
    assert [m.revenue["USD"] for m in result.months] == [D("120.00")] * 3  # 100 + (60 − 50) × 2.00


def test_complexity_tiers_split_by_the_historys_share():
    terms = terms_parse(
        {
            "effective_from": "2026-01-01",
            "prices": [
                {
                    "outcome_type": RES,
                    "model": "complexity",
                    "tiers": {"simple": "0.50", "moderate": "0.75", "complex": "1.00"},
                }
            ],
        }
    )
    acct = account([10] * 6, [10] * 6, terms=terms, tiers=[("complex", 3), ("simple", 1)])
    # 10 billable: 8 complex (7.5, the tie to the first) and 2 simple → 8.00 + 1.00.
    assert run(acct, Scenario("baseline", 3)).months[0].revenue["USD"] == D("9.00")


def test_each_month_takes_the_carry_the_month_before_hands_on():
    terms = terms_parse(
        {
            "effective_from": "2026-01-01",
            "unit": "credits",
            "credit_price": "0.02",
            "prices": [{"outcome_type": RES, "model": "unit", "price": "50"}],
            "platform_fee": {"amount": "20.00", "included_credits": "1000", "rollover": True},
        }
    )
    # 24 resolutions a month = 1,200 credits; 1,000 included; 300 rolled in to start.
    acct = account([24] * 6, [24] * 6, terms=terms, carry=Carry(credits=D(300)))
    result = run(acct, Scenario("baseline", 3))
    # 1,300 available: 100 roll over; then 1,100: 100 × 0.02 over; then 1,000: 200 × 0.02 over.
    assert [m.revenue["USD"] for m in result.months] == [D("20.00"), D("22.00"), D("24.00")]


def test_gain_share_adds_the_historys_mean_share_per_outcome():
    terms = terms_parse(
        {
            "effective_from": "2026-01-01",
            "prices": [{"outcome_type": RES, "model": "gain_share", "percent": "15", "baseline": "100.00"}],
        }
    )
    acct = account([4] * 6, [4] * 6, terms=terms, gain=D("2.500000"))
    assert run(acct, Scenario("baseline", 3)).months[0].revenue["USD"] == D("10.00")  # 4 × 2.50


# --- Through the pipeline: the API, the page and the CSV ------------------------------------------


@pytest.fixture
def world(db):
    """acme (enterprise, USD, 1.00 a resolution): each of the last six closed months 2 resolved and 1
    abandoned (0.6667); globex (smb, EUR, no contract: the catalogue's 0.99): 1 resolved a month."""
    factories.make_outcome_type(unit_price="0.99")
    acme = factories.make_account("acme", name="Acme", tier="enterprise")
    globex = factories.make_account("globex", name="Globex", tier="smb", currency="EUR")
    contract_version_create(
        account=acme,
        document={
            "effective_from": "2020-01-01",
            "prices": [{"outcome_type": RES, "model": "unit", "price": "1.00"}],
        },
    )
    last = default_period()
    for i in range(6):
        day = period_first_day(period_add(last, -i))
        at = datetime(day.year, day.month, 10, 12, tzinfo=UTC)
        factories.ingest(
            factories.event_payload(acme, f"acme-{i}-1", occurred_at=at),
            factories.event_payload(acme, f"acme-{i}-2", occurred_at=at),
            factories.event_payload(acme, f"acme-{i}-3", occurred_at=at, failure_reason="abandoned"),
            factories.event_payload(globex, f"globex-{i}-1", occurred_at=at),
            now=at + timedelta(hours=1),  # each month's events as they arrived (the late-event window)
        )
    outcomes_settle()
    page = Client()
    page.force_login(factories.make_user(Role.VENDOR_FINANCE, None, "ana"))
    return {
        "api": Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}"),
        "page": page,
        "last": last,
        "acme": acme,
        "globex": globex,
    }


def post(client, body):
    return client.post("/api/v1/finance/scenarios", body, content_type="application/json")


def test_api_projects_the_book_per_currency(world):
    body = post(world["api"], {"scope": {}, "scenario": "baseline", "months": 3}).json()
    last = world["last"]
    assert (body["last_closed"], body["accounts"], body["currencies"]) == (last, 2, ["EUR", "USD"])
    assert body["history"] == [
        {"period": period_add(last, -k), "attempted": 4, "billable": 3, "attainment_rate": "0.7500"}
        for k in (5, 4, 3, 2, 1, 0)
    ]
    month = {
        "attempted": 4,
        "billable": 3,
        "attainment_rate": "0.7500",
        "revenue": [{"currency": "EUR", "amount": "0.99"}, {"currency": "USD", "amount": "2.00"}],
        "churned_accounts": 0,
    }
    assert body["projection"] == [{"period": period_add(last, k), **month} for k in (1, 2, 3)]
    assert (body["params"], body["churned"]) == ({}, [])


def test_api_churn_by_the_accounts_own_threshold(world):
    world["acme"].min_attainment = D("0.7")
    world["acme"].save(update_fields=["min_attainment"])
    body = post(world["api"], {"scope": {"tier": "enterprise"}, "scenario": "churn", "months": 3}).json()
    first = period_add(world["last"], 1)
    assert body["churned"] == [{"account": "acme", "period": first, "attainment_rate": "0.6667", "threshold": "0.7000"}]
    assert [(m["attempted"], m["revenue"], m["churned_accounts"]) for m in body["projection"]] == [
        (0, [{"currency": "USD", "amount": "0.00"}], 1)
    ] * 3
    assert body["params"] == {"threshold": None, "points_per_month": "0"}


def test_api_decline_for_one_account(world):
    body = post(
        world["api"],
        {"scope": {"account": "acme"}, "scenario": "decline", "months": 3, "params": {"points_per_month": "10"}},
    ).json()
    # 0.6667 − 10, 20, 30 points → × 3 attempted = 1.7001 → 2, 1.4001 → 1, 1.1001 → 1.
    assert [(m["billable"], m["revenue"][0]["amount"]) for m in body["projection"]] == [
        (2, "2.00"),
        (1, "1.00"),
        (1, "1.00"),
    ]
    assert body["params"] == {"points_per_month": "10"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scenario": "boom"}, "scenario"),
        ({"scenario": "dip", "months": 2}, "months"),
        ({"scenario": "dip", "months": 13}, "months"),
        ({"scenario": "dip", "params": {"depth_points": "101"}}, "params.depth_points"),
        ({"scenario": "dip", "params": {"depth_points": 5}}, "params.depth_points"),  # a string, not a number
        ({"scenario": "churn", "params": {"threshold": "1.5"}}, "params.threshold"),
        ({"scenario": "dip", "params": {"depth": "5"}}, "params.depth"),
        ({"scenario": "baseline", "scope": {"outcome_type": "resolved_conversation"}}, "scope.outcome_type"),
        ({"scenario": "baseline", "scope": {"account": "nobody"}}, "scope.account"),
    ],
)
def test_api_refuses_bad_input_with_the_standard_error(world, body, field):
    response = post(world["api"], body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], list(error["fields"])) == ("validation_error", [field])


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_api_page_and_csv_give_the_same_figures(world):
    query = "account=&tier=&scenario=dip&months=4&depth_points=20&dip_months=2"
    api = post(
        world["api"], {"scope": {}, "scenario": "dip", "months": 4, "params": {"depth_points": "20", "months": 2}}
    )
    page = world["page"].get(f"/finance/scenarios/?{query}")
    assert page.status_code == 200
    assert page.context["body"] == api.json()
    html = page.content.decode()
    for m in api.json()["projection"]:
        assert m["period"] in html
    rows = _csv(world["page"].get(f"/finance/scenarios.csv?{query}"))
    assert rows == [
        {
            "scenario": "dip",
            "period": m["period"],
            "attempted": str(m["attempted"]),
            "billable": str(m["billable"]),
            "attainment_rate": m["attainment_rate"] or "",
            "churned_accounts": str(m["churned_accounts"]),
            **{f"revenue_{r['currency']}": r["amount"] for r in m["revenue"]},
        }
        for m in api.json()["projection"]
    ]
    # The dip: acme's 0.6667 − 20 points × 3 = 1.4 → 1, globex's 0.8 → 1 for two months, then the baseline.
    assert [r["billable"] for r in rows] == ["2", "2", "3", "3"]


def test_page_shows_all_four_scenarios_in_the_chart(world):
    page = world["page"].get("/finance/scenarios/")
    assert page.status_code == 200
    chart = page.context["chart"]
    assert [s["scenario"] for s in chart["rates"]] == ["baseline", "dip", "decline", "churn"]
    assert len(chart["revenue"]) == 8  # four scenarios × two currencies
    assert page.context["body"]["months"] == 6


def test_page_shows_bad_parameters_on_the_form(world):
    page = world["page"].get("/finance/scenarios/?threshold=2")
    assert page.status_code == 200
    assert "body" not in page.context and page.context["form"].errors["threshold"]
    assert world["page"].get("/finance/scenarios.csv?threshold=2").status_code == 400


def test_scenario_inputs_leave_churned_accounts_out(world):
    account_lifecycle_set(account=world["globex"], status="churned", effective_at=timezone.now(), changed_by="t")
    inputs = scenario_inputs(scope={}, months=3)
    assert [a.account for a in inputs.accounts] == ["acme"]


def test_the_history_is_kept_until_one_of_its_months_changes(world, django_assert_max_num_queries):
    first = scenario_inputs(scope={}, months=3)
    acme = next(a for a in first.accounts if a.account == "acme")
    assert acme.types[0].attempted == (3,) * 6
    with django_assert_max_num_queries(12):  # kept: no rollup read again
        assert scenario_inputs(scope={}, months=3).accounts == first.accounts
    # A late outcome of the oldest history month (the month rollups fold it: its count moves).
    day = period_first_day(period_add(world["last"], -5))
    at = datetime(day.year, day.month, 20, 12, tzinfo=UTC)
    factories.ingest(factories.event_payload(world["acme"], "acme-late", occurred_at=at), now=at + timedelta(hours=1))
    outcomes_settle()
    again = next(a for a in scenario_inputs(scope={}, months=3).accounts if a.account == "acme")
    assert again.types[0].attempted == (4, 3, 3, 3, 3, 3)


def _process_forgets() -> None:
    """What a new web process knows: nothing kept in memory (the database keeps its rows)."""
    refcache._caches.clear()


def test_a_new_process_reads_the_kept_months_instead_of_counting_them(world, monkeypatch):
    first = scenario_inputs(scope={}, months=3)
    history = world["last"], period_add(world["last"], -5)
    kept = ScenarioMonth.objects.filter(period__in=periods_between(history[1], history[0]))
    assert kept.count() == 12  # two accounts × six months, each stamped
    assert kept.get(account=world["acme"], period=world["last"]).types[RES][:2] == [2, 1]
    _process_forgets()
    counted = []
    monkeypatch.setattr(scenario_inputs_module, "_history_read", lambda *a: counted.append(a) or {})
    assert scenario_inputs(scope={}, months=3).accounts == first.accounts
    assert counted == []  # read from the rows, nothing counted again


def test_the_hourly_job_keeps_the_whole_books_history_months_counted(world):
    assert ScenarioMonth.objects.count() == 0
    oldest = period_add(world["last"], -5)
    assert f"scenario history of {oldest}–{world['last']} up to date (2 accounts" in tasks.scenario_history_warm()
    assert ScenarioMonth.objects.count() == 12
    counted_at = set(ScenarioMonth.objects.values_list("counted_at", flat=True))
    _process_forgets()
    tasks.scenario_history_warm()  # nothing moved: nothing counted again
    assert set(ScenarioMonth.objects.values_list("counted_at", flat=True)) == counted_at


def test_a_kept_month_is_counted_again_when_its_rollup_or_the_contracts_change(world):
    scenario_inputs(scope={}, months=3)
    oldest = period_add(world["last"], -5)
    stamps = dict(ScenarioMonth.objects.filter(account=world["acme"]).values_list("period", "stamp"))
    day = period_first_day(oldest)
    at = datetime(day.year, day.month, 20, 12, tzinfo=UTC)
    factories.ingest(factories.event_payload(world["acme"], "acme-late", occurred_at=at), now=at + timedelta(hours=1))
    outcomes_settle()
    _process_forgets()
    again = next(a for a in scenario_inputs(scope={}, months=3).accounts if a.account == "acme")
    assert again.types[0].attempted == (4, 3, 3, 3, 3, 3)
    moved = dict(ScenarioMonth.objects.filter(account=world["acme"]).values_list("period", "stamp"))
    assert [p for p in moved if moved[p] != stamps[p]] == [oldest]  # only the late outcome's month
    # A contract change (reference data) counts every month again, under the new stamp.
    contract_version_create(
        account=world["acme"],
        document={"effective_from": "2020-01-01", "prices": [{"outcome_type": RES, "model": "unit", "price": "2.00"}]},
    )
    _process_forgets()
    scenario_inputs(scope={}, months=3)
    assert all(
        s != moved[p] for p, s in ScenarioMonth.objects.filter(account=world["acme"]).values_list("period", "stamp")
    )


# --- Who may see them -----------------------------------------------------------------------------


@pytest.mark.parametrize("person", sorted(PAGE_STATUS))
def test_page_and_csv_access(staff_clients, person):
    for url in ("/finance/scenarios/", "/finance/scenarios.csv"):
        assert staff_clients[person].get(url).status_code == PAGE_STATUS[person]


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER])
def test_api_refuses_account_keys(account_a, role):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {factories.account_key(account_a, role)}")
    response = post(client, {"scope": {"account": account_a.external_id}, "scenario": "baseline"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_min_attainment_is_set_by_operators_on_the_accounts_page(staff_clients, account_a):
    url = f"/finance/accounts/{account_a.external_id}/lifecycle/"
    assert staff_clients["finance"].post(url, {"min_attainment": "0.7"}).status_code == 403
    account_a.refresh_from_db()
    assert account_a.min_attainment is None
    assert staff_clients["operator"].post(url, {"min_attainment": "0.7"}).status_code == 302
    account_a.refresh_from_db()
    assert account_a.min_attainment == D("0.7")
    assert staff_clients["operator"].post(url, {"min_attainment": "1.5"}).status_code == 200  # refused, shown
    account_a.refresh_from_db()
    assert account_a.min_attainment == D("0.7")


def test_the_memo_answers_a_call_it_has_seen_without_calling_again():
    calls = []

    def f(a, b):
        calls.append((a, b))
        return a + b

    memo = Memo()
    assert (memo(f, 1, 2), memo(f, 1, 2), memo(f, 2, 1)) == (3, 3, 3)
    assert calls == [(1, 2), (2, 1)]
    # Equal values stand for one another by the first one's identity (hashed once per object).
    a, b = (1, (2, 3)), (1, (2, 3))
    assert memo.canonical(a) is a and memo.canonical(b) is a and memo.canonical((9,)) == (9,)
    assert memo.keyed(("sum", id(memo.canonical(b))), f, 5, 5) == 10
    assert memo.keyed(("sum", id(memo.canonical(a))), f, 6, 6) == 10  # the same key: kept, not called
    assert calls[-1] == (5, 5)
