"""The Spend page's forecast without a cap (a projected month-end amount, not "Within cap") and its
change log (only what a change changed) — issue 16's defects, with the pure rules under them."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from django.test import Client
from django.utils import timezone

from accounts.models import Role
from billing import caps
from billing.spend.changes import control_changes
from billing.spend.services import spend_controls_set
from outcomeportal.core import formatting
from outcomeportal.core.money import round_line
from outcomeportal.core.periods import period_add, period_first_day, period_of
from tests import factories
from tests.spend.test_spend import post


def test_the_projection_is_the_run_rate_of_the_outcomes_plus_the_fixed_fees_once():
    usage = caps.Usage(D("1800"), 600)
    # 1,500 fixed; 300 of outcomes in 10 of 30 days → 900 for the month → 2,400.
    start, end = date(2026, 11, 1), date(2026, 12, 1)
    assert caps.projected_spend(usage, period_start=start, today=date(2026, 11, 10), period_end=end,
                                fixed=D("1500")) == D("2400")  # fmt: skip
    assert caps.projected_spend(usage, period_start=start, today=date(2026, 11, 30), period_end=end,
                                fixed=D("1500")) == D("1800")  # the last day: what was charged  # fmt: skip
    assert caps.projected_spend(caps.Usage(D("0"), 0), period_start=start, today=date(2026, 11, 3), period_end=end,
                                fixed=D("0")) == 0  # fmt: skip


def test_a_change_lists_only_what_it_changed():
    old = {"monthly_cap": None, "monthly_cap_outcomes": None, "alert_thresholds": [50, 80, 100], "at_cap": "pause"}
    new = old | {"monthly_cap": "1500.00"}
    assert control_changes(old, new, "USD") == ["cap none → $1,500.00"]
    both = new | {"monthly_cap_outcomes": 4065, "at_cap": "allow_overage"}
    assert control_changes(new, both, "USD") == [
        "outcome cap none → 4,065 outcomes",
        "at the cap pause → allow overage",
    ]


def _page(account) -> str:
    client = Client()
    client.force_login(factories.make_user(Role.FINANCE_ADMIN, account))
    response = client.get(f"/account/{account.external_id}/spend/")
    assert response.status_code == 200
    return response.content.decode()


def test_without_a_cap_the_forecast_is_the_projected_month_end_amount(account_a, outcome_type):
    post(account_a, 10)  # 10 outcomes at $0.99 today: $9.90 so far
    today = timezone.now().astimezone(ZoneInfo(account_a.timezone)).date()
    start = today.replace(day=1)
    end = period_first_day(period_add(period_of(today), 1))
    expected = round_line(D("9.90") * (end - start).days / ((today - start).days + 1), "USD")
    html = _page(account_a)
    assert "Within cap" not in html
    assert f"data-projected>{formatting.money(expected, 'USD')}<" in html


def test_the_change_log_names_only_the_fields_that_changed(account_a):
    spend_controls_set(account=account_a, monthly_cap=D("1500"), monthly_cap_outcomes=None,
                       alert_thresholds=[50, 80, 100], at_cap="pause", changed_by="fran")  # fmt: skip
    html = _page(account_a)
    assert "cap none → $1,500.00" in html
    assert "outcome cap none" not in html and "none → none" not in html and "pause → pause" not in html


def test_the_dashboard_draws_the_cap_and_the_spend_pages_forecast(account_a, outcome_type):
    spend_controls_set(account=account_a, monthly_cap=D("500"), monthly_cap_outcomes=None,
                       alert_thresholds=[50, 80, 100], at_cap="pause", changed_by="fran")  # fmt: skip
    post(account_a, 10)
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    page = client.get(f"/account/{account_a.external_id}/")
    assert page.status_code == 200
    chart = json.loads(re.search(r'id="spend-data" type="application/json">(.*?)</script>', page.content.decode())[1])
    assert chart["cap"] == "500.00"
    spend = Client()
    spend.force_login(factories.make_user(Role.FINANCE_ADMIN, account_a))
    html = spend.get(f"/account/{account_a.external_id}/spend/").content.decode()
    assert f"about {formatting.money(D(chart['forecast']['amount']), 'USD')} for the month" in html  # one figure
