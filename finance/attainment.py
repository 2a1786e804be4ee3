"""Attainment: the one definition of the figure, for the finance page, its CSV and the API.

A pure core (no Django): it takes counts of outcomes by the status and reason customers see
(``billing.ledger.shown``; read from the two rollups by :mod:`finance.selectors`) and returns rows.

**Attainment rate = billable ÷ attempted**, with billing's counting rule
(:mod:`billing.pricing.attainment`: which shown status and reason is billable, failed or not
attempted, and the 4-decimal rate) — the rule a contract's outcome guarantee is priced by, so an
invoice's shortfall credit and this page count alike. No attempted outcome, no rate.

A segment is *falling* in a month when its rate is more than ``drop_points`` percentage points below
its trailing mean: the mean of its 4-decimal rates of the three months before (those that have one;
none, no flag), itself rounded to 4 decimals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.pricing.attainment import BILLABLE, FAILED, NOT_ATTEMPTED, RATE_PLACES, classify, rate
from outcomeportal.core.periods import period_add

DIMENSIONS = ("tier", "industry", "use_case", "outcome_type", "account")
TRAILING_MONTHS = 3


def rate_text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def trailing_mean(rates: Sequence[Decimal | None]) -> Decimal | None:
    """The mean of the rates that exist (4 decimals), None when none does."""
    known = [r for r in rates if r is not None]
    if not known:
        return None
    return (sum(known, Decimal(0)) / len(known)).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def is_falling(current: Decimal | None, mean: Decimal | None, drop_points: Decimal) -> bool:
    """More than ``drop_points`` percentage points below the trailing mean."""
    if current is None or mean is None:
        return False
    return current < mean - drop_points / 100


@dataclass(frozen=True, slots=True)
class Count:
    """Outcomes of one account, local month and outcome type shown with one status and reason."""

    account: dict[str, str]  # the account's dimensions: account (external id), tier, industry, use_case
    outcome_type: str
    period: str  # YYYY-MM, the account's local month
    status: str
    reason: str
    n: int


@dataclass(frozen=True, slots=True)
class AttainmentRow:
    segment: tuple[tuple[str, str], ...]  # (dimension, value) in group_by order
    period: str
    attempted: int
    billable: int
    not_attempted: dict[str, int]  # every word of NOT_ATTEMPTED, 0 included
    rate: Decimal | None
    trailing_rate: Decimal | None  # the mean of the three months before
    falling: bool

    @property
    def failed(self) -> int:
        return self.attempted - self.billable

    @property
    def segment_dict(self) -> dict[str, str]:
        return dict(self.segment)

    def as_api(self) -> dict:
        """The row as the API and the CSV give it: counts as integers, rates as 4-decimal strings."""
        return {
            "segment": self.segment_dict,
            "period": self.period,
            "attempted": self.attempted,
            "billable": self.billable,
            "attainment_rate": rate_text(self.rate),
            "not_attempted": dict(self.not_attempted),
            "trailing_rate": rate_text(self.trailing_rate),
            "falling": self.falling,
        }


def group_by_parse(value: str) -> tuple[str, ...]:
    """``"tier,industry"`` → ("tier", "industry"): at most two known dimensions, no repeat.
    Raises ValueError with a message for anything else. Empty: the whole book (no dimension)."""
    dims = tuple(d.strip() for d in value.split(",") if d.strip()) if value else ()
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"Unknown dimension {unknown[0]!r}: one or two of {', '.join(DIMENSIONS)}.")
    if len(dims) > 2:
        raise ValueError("At most two dimensions, e.g. tier,industry.")
    if len(set(dims)) != len(dims):
        raise ValueError("A dimension may appear once.")
    return dims


Tallies = dict  # segment → period → the word an outcome counts under (classify) → outcomes


def tallies_of(counts: Iterable[Count], *, group_by: Sequence[str]) -> Tallies:
    """The counts added up by segment, period and the word each counts under (:func:`classify`)."""
    tallies: Tallies = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    words: dict[tuple[str, str], str] = {}
    for c in counts:
        values = {**c.account, "outcome_type": c.outcome_type}
        segment = tuple((d, values[d]) for d in group_by)
        key = (c.status, c.reason)
        word = words.get(key) or words.setdefault(key, classify(c.status, c.reason))
        tallies[segment][c.period][word] += c.n
    return tallies


def attainment_rows(
    counts: Iterable[Count],
    *,
    group_by: Sequence[str],
    periods: Sequence[str],
    drop_points: Decimal,
) -> list[AttainmentRow]:
    """One row per segment and period of ``periods`` (oldest first, consecutive), for every segment
    that has an outcome in the range or the three months before it; ordered by segment, then period.
    ``counts`` may reach back three months before ``periods[0]`` for the trailing mean."""
    return rows_of_tallies(tallies_of(counts, group_by=group_by), periods=periods, drop_points=drop_points)


def rows_of_tallies(tallies: Tallies, *, periods: Sequence[str], drop_points: Decimal) -> list[AttainmentRow]:
    """:func:`attainment_rows` from counts already added up (:func:`tallies_of`, or in SQL)."""
    rows: list[AttainmentRow] = []
    for segment in sorted(tallies):
        by_period = tallies[segment]

        def rate_of(period: str, by_period=by_period) -> Decimal | None:
            t = by_period.get(period, {})
            return rate(t.get(BILLABLE, 0), t.get(BILLABLE, 0) + t.get(FAILED, 0))

        for period in periods:
            t = by_period.get(period, {})
            billable = t.get(BILLABLE, 0)
            attempted = billable + t.get(FAILED, 0)
            current = rate(billable, attempted)
            mean = trailing_mean([rate_of(period_add(period, -k)) for k in range(1, TRAILING_MONTHS + 1)])
            rows.append(
                AttainmentRow(
                    segment=segment,
                    period=period,
                    attempted=attempted,
                    billable=billable,
                    not_attempted={w: t.get(w, 0) for w in NOT_ATTEMPTED},
                    rate=current,
                    trailing_rate=mean,
                    falling=is_falling(current, mean, drop_points),
                )
            )
    return rows
