"""Revenue's inputs (finance.revenue is pure): finalized invoices and credit notes, the live drafts of
the current month, the contracts in force and the accounts' lifecycle — the selector of the revenue
page, its CSV and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from accounts.models import Account, AccountLifecycleChange
from billing.invoices.models import CreditNote, Invoice
from billing.selectors import contract_for_period
from finance.revenue import COHORT_MONTHS, AccountMonth, Cohort, cohorts, months_table
from finance.selectors import current_period
from outcomeportal.core.periods import (
    period_add,
    period_at,
    period_bounds,
    periods_between,
)


def _status_at(history: list[tuple[datetime, str]], at: datetime) -> str:
    status = "active"
    for effective_at, value in history:
        if effective_at <= at:
            status = value
    return status


def revenue_currencies() -> list[str]:
    """The currencies the accounts are billed in, the most common first."""
    counts: dict[str, int] = {}
    for currency in Account.objects.values_list("currency", flat=True):
        counts[currency] = counts.get(currency, 0) + 1
    return sorted(counts, key=lambda c: (-counts[c], c))


@dataclass(frozen=True, slots=True)
class RevenueReport:
    currency: str
    periods: list[str]
    last_closed: str
    months: list[dict]
    mrr: Decimal
    contracted_monthly: Decimal
    cohorts: list[Cohort]

    def as_api(self) -> dict:
        return {
            "currency": self.currency,
            "last_closed": self.last_closed,
            "months": self.months,
            "mrr": f"{self.mrr:.2f}",
            "arr": f"{self.mrr * 12:.2f}",
            "contracted_arr": f"{self.contracted_monthly * 12:.2f}",
            "cohorts": [c.as_api() for c in self.cohorts],
        }


def revenue_report(*, months: int, currency: str) -> RevenueReport:
    """Revenue by month (the months ending with this one, UTC), MRR, ARR and cohorts, in one currency."""
    now = timezone.now()
    current = current_period()
    periods = periods_between(period_add(current, -(months - 1)), current)
    last_closed = period_add(current, -1)
    accounts = {a.pk: a for a in Account.objects.filter(currency=currency)}
    history: dict[int, list[tuple[datetime, str]]] = {}
    for account_id, effective_at, status in (
        AccountLifecycleChange.objects.filter(account_id__in=list(accounts))
        .order_by("effective_at", "id")
        .values_list("account_id", "effective_at", "status")
    ):
        history.setdefault(account_id, []).append((effective_at, status))
    first_period = min(periods[0], period_add(last_closed, -COHORT_MONTHS))

    def churned(account_id: int, period: str) -> bool:
        start, _end = period_bounds(period, accounts[account_id].timezone)
        return _status_at(history.get(account_id, []), start) == "churned"

    cells: dict[tuple[int, str], list] = {}
    invoices = (
        Invoice.objects.filter(account_id__in=list(accounts), currency=currency, period__gte=first_period)
        .exclude(status="void")
        .values_list("account_id", "period", "subtotal", "status")
    )
    for account_id, period, subtotal, status in invoices:
        cells[(account_id, period)] = [subtotal, Decimal(0), status == "draft"]
    notes = CreditNote.objects.filter(account_id__in=list(accounts), currency=currency).values_list(
        "account_id", "created_at", "amount"
    )
    for account_id, created_at, amount in notes:
        period = period_at(created_at, accounts[account_id].timezone)
        if period >= first_period:
            cells.setdefault((account_id, period), [Decimal(0), Decimal(0), period > last_closed])[1] += amount
    rows = [
        AccountMonth(accounts[a].external_id, p, revenue, credits, draft)
        for (a, p), (revenue, credits, draft) in cells.items()
        if not churned(a, p)
    ]
    table = months_table([r for r in rows if r.period >= periods[0]], periods)
    mrr = next((Decimal(m["net"]) for m in table if m["period"] == last_closed), Decimal(0))
    churned_by = {
        period: {accounts[a].external_id for a in accounts if churned(a, period)}
        for period in periods_between(first_period, last_closed)
    }
    contracted = Decimal(0)
    for account_id in accounts:
        if _status_at(history.get(account_id, []), now) == "churned":
            continue
        _version, terms = contract_for_period(
            account_id=account_id, period=period_at(now, accounts[account_id].timezone)
        )
        if terms is None:
            continue
        if terms.platform_fee is not None and terms.unit == "money":
            contracted += terms.platform_fee.amount
        if terms.commitment is not None and terms.commitment.months:
            contracted += terms.commitment.amount / terms.commitment.months
    return RevenueReport(
        currency=currency,
        periods=periods,
        last_closed=last_closed,
        months=table,
        mrr=mrr,
        contracted_monthly=contracted.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        cohorts=cohorts(rows, latest_closed=last_closed, churned_by=churned_by),
    )
