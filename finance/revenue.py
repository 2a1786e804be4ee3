"""Revenue: MRR, ARR, revenue by month and cohort retention — the one definition (pure; no Django).

:mod:`finance.selectors` reads the inputs: per account and period, its invoice's subtotal (final, or
the draft of the month under way) and the credit notes issued in that month, in one currency; which
accounts were churned when (the lifecycle); the platform fees and commitments in force.

* **revenue** of a month = the invoices' subtotals of that period; **credits** = the credit notes
  issued in it (each account's local month); **net** = revenue − credits. A month not closed yet is
  its drafts (``draft``: true). A churned account counts nothing for a period that starts on or after
  its churn (the status at the period's first instant).
* **MRR** = the net of the last closed month; **ARR** = 12 × MRR; **contracted ARR** = 12 × the
  monthly platform fees and commitments (a commitment's amount ÷ its months) in force now, of the
  accounts not churned.
* A **cohort** is the accounts whose first invoiced month (first invoice with a subtotal above 0) is
  the same. It compares each account's net in the cohort's first month (*start*) with its net in the
  cohort's *end* month: the latest closed month, or 12 months after the first once there are 12.
  *Churn* = the start of the accounts churned by the end month or without revenue in it; of the
  others, *expansion* = the sum of increases, *contraction* = the sum of decreases.
  **NRR** = (start + expansion − contraction − churn) ÷ start, **GRR** = (start − contraction −
  churn) ÷ start: 4-decimal ratios, None when the start is 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from finance.attainment import RATE_PLACES, rate_text
from outcomeportal.core.periods import period_add

ZERO = Decimal(0)
COHORT_MONTHS = 12


@dataclass(frozen=True, slots=True)
class AccountMonth:
    """One account's invoiced subtotal and credit notes of one period (one currency)."""

    account: str
    period: str
    revenue: Decimal
    credits: Decimal
    draft: bool = False


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator <= 0:
        return None
    return (numerator / denominator).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def months_table(rows: Sequence[AccountMonth], periods: Sequence[str]) -> list[dict]:
    by_period: dict[str, list[AccountMonth]] = defaultdict(list)
    for r in rows:
        by_period[r.period].append(r)
    out = []
    for period in periods:
        revenue = sum((r.revenue for r in by_period[period]), ZERO)
        credits = sum((r.credits for r in by_period[period]), ZERO)
        out.append(
            {
                "period": period,
                "revenue": _money(revenue),
                "credits": _money(credits),
                "net": _money(revenue - credits),
                "draft": any(r.draft for r in by_period[period]),
            }
        )
    return out


@dataclass(frozen=True, slots=True)
class Cohort:
    cohort: str
    end: str
    accounts: int
    start: Decimal
    expansion: Decimal
    contraction: Decimal
    churn: Decimal

    @property
    def nrr(self) -> Decimal | None:
        return ratio(self.start + self.expansion - self.contraction - self.churn, self.start)

    @property
    def grr(self) -> Decimal | None:
        return ratio(self.start - self.contraction - self.churn, self.start)

    def as_api(self) -> dict:
        return {
            "cohort": self.cohort,
            "compared_with": self.end,
            "accounts": self.accounts,
            "start": _money(self.start),
            "nrr": rate_text(self.nrr),
            "grr": rate_text(self.grr),
            "expansion": _money(self.expansion),
            "contraction": _money(self.contraction),
            "churn": _money(self.churn),
        }


def cohorts(rows: Sequence[AccountMonth], *, latest_closed: str, churned_by: Mapping[str, set[str]]) -> list[Cohort]:
    """Cohorts by first invoiced month, oldest first. ``churned_by[period]``: the accounts churned at
    that period's first instant. Only closed months count (drafts are left out)."""
    net: dict[tuple[str, str], Decimal] = {}
    first: dict[str, str] = {}
    for r in rows:
        if r.draft or r.period > latest_closed:
            continue
        net[(r.account, r.period)] = net.get((r.account, r.period), ZERO) + r.revenue - r.credits
        if r.revenue > 0 and (r.account not in first or r.period < first[r.account]):
            first[r.account] = r.period
    members: dict[str, list[str]] = defaultdict(list)
    for account, period in first.items():
        members[period].append(account)
    out = []
    for cohort in sorted(members):
        end = min(latest_closed, period_add(cohort, COHORT_MONTHS))
        start = expansion = contraction = churn = ZERO
        for account in members[cohort]:
            s, e = net.get((account, cohort), ZERO), net.get((account, end), ZERO)
            start += s
            if account in churned_by.get(end, set()) or e <= 0:
                churn += s
            elif e > s:
                expansion += e - s
            else:
                contraction += s - e
        out.append(Cohort(cohort, end, len(members[cohort]), start, expansion, contraction, churn))
    return out
