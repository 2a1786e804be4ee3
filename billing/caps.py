"""Spend caps and alert thresholds: the pure rules, no Django.

The service (billing.spend) locks the account's period row, reads the period's usage,
asks :func:`cap_apply` which of the batch's new outcomes fit under the cap, and stores
the answer. Everything here is arithmetic on Decimal and ints, testable in microseconds.

Rules (api-v1.md "Account status"):
- outcomes that would be billable *reserve* their amount at ingestion (pending counts);
- with ``at_cap = pause`` the first outcome that would take the period over the cap is
  ruled out (``cap_reached``), the account pauses, and every later outcome of the period
  is ruled out too until the cap is raised or the period ends — so the billed amount of a
  period never exceeds the cap;
- with ``at_cap = allow_overage`` nothing is ruled out: the cap only drives alerts;
- each alert threshold (a percentage of the cap) fires once per period.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

PAUSE = "pause"
ALLOW_OVERAGE = "allow_overage"
DEFAULT_THRESHOLDS = (50, 80, 100)


@dataclass(frozen=True, slots=True)
class CapPolicy:
    cap_amount: Decimal | None = None  # money, in the account's currency
    cap_outcomes: int | None = None  # billable outcomes
    at_cap: str = PAUSE
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS

    @property
    def capped(self) -> bool:
        return self.cap_amount is not None or self.cap_outcomes is not None


@dataclass(frozen=True, slots=True)
class Usage:
    amount: Decimal = Decimal(0)
    outcomes: int = 0

    def plus(self, amount: Decimal) -> Usage:
        return Usage(self.amount + amount, self.outcomes + 1)


@dataclass(frozen=True, slots=True)
class CapItem:
    key: Hashable  # the event's primary key
    amount: Decimal  # what it reserves (0 for an outcome priced only in credits)


@dataclass(frozen=True, slots=True)
class CapResult:
    ruled_out: tuple[Hashable, ...]
    usage: Usage  # the period's usage once the admitted items are counted
    paused: bool


def over(policy: CapPolicy, usage: Usage) -> bool:
    """Is ``usage`` beyond what the policy allows?"""
    return (policy.cap_amount is not None and usage.amount > policy.cap_amount) or (
        policy.cap_outcomes is not None and usage.outcomes > policy.cap_outcomes
    )


def at_or_over(policy: CapPolicy, usage: Usage) -> bool:
    return (policy.cap_amount is not None and usage.amount >= policy.cap_amount) or (
        policy.cap_outcomes is not None and usage.outcomes >= policy.cap_outcomes
    )


def cap_apply(policy: CapPolicy, usage: Usage, items: Sequence[CapItem], *, paused: bool = False) -> CapResult:
    """Admit items in order until one would cross the cap; with ``pause``, rule out it and the rest."""
    if not policy.capped or policy.at_cap != PAUSE:
        for item in items:
            usage = usage.plus(item.amount)
        return CapResult(ruled_out=(), usage=usage, paused=False)
    ruled_out: list[Hashable] = []
    for item in items:
        if paused:
            ruled_out.append(item.key)
            continue
        after = usage.plus(item.amount)
        if over(policy, after):
            paused = True
            ruled_out.append(item.key)
        else:
            usage = after
    # Reaching the cap exactly also pauses: the next outcome could only cross it.
    return CapResult(ruled_out=tuple(ruled_out), usage=usage, paused=paused or at_or_over(policy, usage))


def admits_whole_batch(policy: CapPolicy, after: Usage, *, paused: bool = False) -> bool:
    """Would :func:`cap_apply` admit every item of a batch that brings usage to ``after``, and not pause?

    Amounts are never negative, so usage only grows from item to item: when the batch's end is
    below the cap, so was every step before it. A caller can then skip the item-by-item walk.
    """
    if not policy.capped or policy.at_cap != PAUSE:
        return True
    return not paused and not at_or_over(policy, after)


def headroom(policy: CapPolicy, usage: Usage) -> tuple[Decimal | float, int | float]:
    """(money, outcomes) below which, from ``usage``, nothing happens yet: the cap is not reached
    (with ``pause``) and no alert threshold not reached at ``usage`` is. A batch that keeps usage
    strictly under both is admitted whole and fires nothing — what :func:`admits_whole_batch` and
    :func:`thresholds_reached` would say (tested against them), in a few comparisons.
    """
    inf = float("inf")
    money, outcomes = inf, inf
    if policy.cap_amount is not None:
        if policy.at_cap == PAUSE:
            money = policy.cap_amount
        levels = [policy.cap_amount * t / 100 for t in sorted(policy.thresholds)]
        money = min([money, *(level for level in levels if level > usage.amount)])
    if policy.cap_outcomes is not None:
        if policy.at_cap == PAUSE:
            outcomes = policy.cap_outcomes
        levels = [Decimal(policy.cap_outcomes * t) / 100 for t in sorted(policy.thresholds)]
        outcomes = min([outcomes, *(level for level in levels if level > usage.outcomes)])
    return money, outcomes


def percent_used(policy: CapPolicy, usage: Usage) -> Decimal | None:
    """The larger of money and count use, as a percentage of the cap (None when uncapped)."""
    shares = []
    if policy.cap_amount is not None:
        shares.append(usage.amount * 100 / policy.cap_amount if policy.cap_amount else Decimal(100))
    if policy.cap_outcomes is not None:
        shares.append(Decimal(usage.outcomes * 100) / policy.cap_outcomes if policy.cap_outcomes else Decimal(100))
    return max(shares) if shares else None


def thresholds_reached(policy: CapPolicy, usage: Usage) -> tuple[int, ...]:
    """Every threshold at or below the current use (the store fires each once per period)."""
    used = percent_used(policy, usage)
    if used is None:
        return ()
    return tuple(t for t in sorted(policy.thresholds) if used >= t)


def projected_spend(usage: Usage, *, period_start: date, today: date, period_end: date, fixed: Decimal) -> Decimal:
    """The period's spend at its run rate so far, unrounded: the fixed fees once, plus what the
    outcomes charged so far per elapsed day times the period's days (``period_end`` excluded). Before
    the period (or on its first instant) the run rate is what was charged so far."""
    days = (period_end - period_start).days
    elapsed = min(max((today - period_start).days + 1, 1), days)
    return fixed + (usage.amount - fixed) * days / elapsed


def forecast_cap_day(
    policy: CapPolicy, usage: Usage, *, period_start: date, today: date, period_end: date, fixed: Decimal = Decimal(0)
) -> date | None:
    """At the period's run rate so far, the day the cap will be reached; None if not this period.

    ``fixed``: the part of the usage that does not grow with outcomes (a platform fee): it is
    not a rate, so it is left out of the run rate (it still counts against the cap).
    """
    if not policy.capped or at_or_over(policy, usage):
        return None
    elapsed = (today - period_start).days + 1
    if elapsed <= 0:
        return None
    days_left: list[Decimal] = []
    if policy.cap_amount is not None and usage.amount - fixed > 0:
        rate = (usage.amount - fixed) / elapsed
        days_left.append((policy.cap_amount - usage.amount) / rate)
    if policy.cap_outcomes is not None and usage.outcomes > 0:
        rate = Decimal(usage.outcomes) / elapsed
        days_left.append(Decimal(policy.cap_outcomes - usage.outcomes) / rate)
    if not days_left:
        return None
    day = today + timedelta(days=int(min(days_left)))
    return day if day < period_end else None
