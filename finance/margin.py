"""Cost and gross margin: the one definition, for the finance page, its CSV and the API.

A pure core (no Django): :mod:`finance.selectors` reads its inputs from the rollups, the catalogue's
costs and the invoices' platform-fee lines.

* **Cost** of an outcome event — every stored event, billable or not (the AI ran either way), sandbox
  and duplicates included — is the ``cost_amount`` it reported, else the catalogue's cost of its
  outcome type and complexity tier in force on its local date (:func:`catalogue_cost`), else nothing
  (counted in ``uncosted_outcomes``).
* **Charged** is what the outcomes earn: the amounts of their charges that count on the invoice
  (rated, invoiced or disputed; charged or included in the platform fee — attempts' fees too), plus
  the platform fee of the period spread over the types of its included outcomes by their count
  (a fee with no included outcome stays with the account, outcome type ``""``). Credits, commitments'
  true-ups, top-ups and taxes are not in it.
* **Gross margin** = (charged − cost) ÷ charged, a 4-decimal ratio (None when nothing was charged);
  **below floor** when it is under the outcome type's margin floor (the setting's default, 60 %, or
  the type's own); a segment of several types takes the floor of the charged-weighted mix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from finance.attainment import RATE_PLACES, rate_text

MARGIN_DIMENSIONS = ("outcome_type", "account", "tier", "industry", "use_case")
TIERS = ("", "simple", "moderate", "complex")
MONEY_PLACES = Decimal("0.000001")
ZERO = Decimal(0)


def catalogue_cost(
    costs: Mapping[tuple[str, str], Sequence[tuple[date, Decimal]]], outcome_type: str, tier: str, day: date
) -> Decimal | None:
    """The catalogue's cost of one outcome of ``outcome_type`` and ``tier`` that occurred on ``day``: the
    tier's own cost in force that day, else the type's cost for every tier, else None.
    ``costs[(type, tier)]`` is that cost's history, (effective_from, amount) oldest first."""
    for key in ((outcome_type, tier), (outcome_type, "")) if tier else ((outcome_type, ""),):
        amount = None
        for effective_from, value in costs.get(key, ()):
            if effective_from <= day:
                amount = value
        if amount is not None:
            return amount
    return None


def gross_margin(charged: Decimal, cost: Decimal) -> Decimal | None:
    """(charged − cost) ÷ charged, 4 decimals, half away from zero; None when nothing was charged."""
    if charged <= 0:
        return None
    return ((charged - cost) / charged).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def spread(amount: Decimal, weights: Mapping[str, int]) -> dict[str, Decimal]:
    """``amount`` spread over the keys by weight, to 6 places; the last key takes the remainder so the
    parts add up to the amount exactly. No weight: everything under ``""``."""
    total = sum(weights.values())
    if total <= 0:
        return {"": amount}
    keys = sorted(weights)
    parts = {k: (amount * weights[k] / total).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP) for k in keys[:-1]}
    parts[keys[-1]] = amount - sum(parts.values(), ZERO)
    return parts


@dataclass(frozen=True, slots=True)
class CostDay:
    """One account's events of one outcome type on one local day: their reported costs and how many
    reported none, by tier (from the daily rollup)."""

    account: dict[str, str]  # account (external id), tier, industry, use_case, currency
    outcome_type: str
    day: date
    reported_cost: Decimal
    uncosted: Mapping[str, int]  # complexity tier ("" none) → events without a reported cost


@dataclass(frozen=True, slots=True)
class Earned:
    """What one account's outcomes of one type earned in one period (charges, or a share of the fee)."""

    account: dict[str, str]
    outcome_type: str
    period: str
    amount: Decimal


@dataclass(slots=True)
class _Tally:
    charged: Decimal = ZERO
    cost: Decimal = ZERO
    uncosted: int = 0
    losses: int = 0
    by_type: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))  # charged per type


@dataclass(frozen=True, slots=True)
class MarginRow:
    segment: tuple[tuple[str, str], ...]
    period: str
    currency: str
    charged: Decimal
    cost: Decimal
    margin: Decimal | None
    floor: Decimal
    below_floor: bool
    loss_outcomes: int  # charged outcomes that cost more than they earned (finance.selectors.loss_events)
    uncosted_outcomes: int  # events with neither a reported nor a catalogue cost (counted at 0)

    def as_api(self) -> dict:
        return {
            "segment": dict(self.segment),
            "period": self.period,
            "currency": self.currency,
            "charged": f"{self.charged:.6f}",
            "cost": f"{self.cost:.6f}",
            "gross_margin": rate_text(self.margin),
            "margin_floor": rate_text(self.floor),
            "below_floor": self.below_floor,
            "loss_outcomes": self.loss_outcomes,
            "uncosted_outcomes": self.uncosted_outcomes,
        }


def segment_of(group_by: Sequence[str], account: Mapping[str, str], outcome_type: str) -> tuple[tuple[str, str], ...]:
    values = {**account, "outcome_type": outcome_type}
    return tuple((d, values[d]) for d in group_by)


def period_of_day(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def margin_rows(
    *,
    cost_days: Iterable[CostDay],
    earned: Iterable[Earned],
    losses: Iterable[tuple[dict[str, str], str, str, int]],  # (account, outcome type, period, count)
    costs: Mapping[tuple[str, str], Sequence[tuple[date, Decimal]]],
    floors: Mapping[str, Decimal],  # outcome type → its own floor (others: default_floor)
    default_floor: Decimal,
    group_by: Sequence[str],
) -> list[MarginRow]:
    """One row per segment, period and currency that has a cost or a charge, by segment then period."""
    tallies: dict[tuple, _Tally] = defaultdict(_Tally)

    def tally(account, outcome_type, period) -> _Tally:
        return tallies[(segment_of(group_by, account, outcome_type), period, account["currency"])]

    for d in cost_days:
        t = tally(d.account, d.outcome_type, period_of_day(d.day))
        t.cost += d.reported_cost
        for tier, n in d.uncosted.items():
            if not n:
                continue
            unit = catalogue_cost(costs, d.outcome_type, tier, d.day)
            if unit is None:
                t.uncosted += n
            else:
                t.cost += unit * n
    for e in earned:
        t = tally(e.account, e.outcome_type, e.period)
        t.charged += e.amount
        t.by_type[e.outcome_type] += e.amount
    for account, outcome_type, period, n in losses:
        tally(account, outcome_type, period).losses += n

    rows = []
    for (segment, period, currency), t in sorted(tallies.items()):
        margin = gross_margin(t.charged, t.cost)
        floor = _floor(t.by_type, floors, default_floor)
        rows.append(
            MarginRow(
                segment=segment,
                period=period,
                currency=currency,
                charged=t.charged,
                cost=t.cost,
                margin=margin,
                floor=floor,
                below_floor=margin is not None and margin < floor,
                loss_outcomes=t.losses,
                uncosted_outcomes=t.uncosted,
            )
        )
    return rows


def _floor(by_type: Mapping[str, Decimal], floors: Mapping[str, Decimal], default: Decimal) -> Decimal:
    """The floor of one type, or of a mix of types weighted by what each was charged (4 decimals)."""
    charged = {k: v for k, v in by_type.items() if v > 0}
    if not charged:
        kinds = list(by_type)
        return floors.get(kinds[0], default) if len(kinds) == 1 else default
    total = sum(charged.values(), ZERO)
    mix = sum((floors.get(k, default) * v for k, v in charged.items()), ZERO) / total
    return mix.quantize(RATE_PLACES, rounding=ROUND_HALF_UP)
