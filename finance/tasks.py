"""Background jobs of the finance area (django-q2; scheduled by ``manage.py setup_schedules``)."""

from __future__ import annotations

import time

from finance.scenario_inputs import scenario_inputs
from finance.selectors import accounts_with_currency, default_period, loss_counts
from outcomeportal.core.periods import period_add, periods_between

WARM_MONTHS = 12  # the closed months whose loss counts are kept counted ahead of the pages


def loss_counts_warm(months: int = WARM_MONTHS) -> str:
    """Count again the loss outcomes of every account-month of the last ``months`` closed months whose
    stamp moved (finance.selectors.loss_counts), so a margin page after invoicing, a late batch or a
    dispute credit reads them kept instead of counting them while someone waits. Idempotent; cheap when
    nothing moved (one stamp query)."""
    started = time.perf_counter()
    last = default_period()
    periods = periods_between(period_add(last, -(months - 1)), last)
    rows = loss_counts(periods=periods, accounts=accounts_with_currency())
    took = time.perf_counter() - started
    return f"loss counts of {periods[0]}–{periods[-1]} up to date ({len(rows)} rows, {took:.1f} s)"


def scenario_history_warm() -> str:
    """Count again the scenarios' history months (the last six closed, every account) whose stamp moved
    (finance.scenario_inputs: :class:`finance.models.ScenarioMonth`), so the first scenario request of a
    web process after invoicing or a late batch reads kept rows. Idempotent; cheap when nothing moved."""
    started = time.perf_counter()
    inputs = scenario_inputs(scope={}, months=1)
    took = time.perf_counter() - started
    periods = inputs.history_periods
    return f"scenario history of {periods[0]}–{periods[-1]} up to date ({len(inputs.accounts)} accounts, {took:.1f} s)"
