"""Attainment scenarios: the next months' outcome volume, attainment and revenue under the current
contracts. A pure core (no Django): a function of each account's history and contract, priced by
:func:`billing.pricing.price_period` — the code every invoice is priced by.

Per account and outcome type, from the attempted and billable outcomes of the last
:data:`HISTORY_MONTHS` closed months (counted as :mod:`finance.attainment` counts them), month *k*
of the projection (k = 1 the month after the last closed one; the history's months are x = 1…6, so
month k is x = 6 + k) holds:

* **attempted** = the least-squares line through the six months' attempted outcomes (from the first
  month that has one: before it the type had not started), read at x = 6 + k, rounded half up to a
  whole number, never below 0 (none in the six months: 0);
* the **baseline rate** = the least-squares line through the 4-decimal rates of the history months
  that have one (one such month: its rate; none: no rate), read at x = 6 + k, clamped to 0…1;
* the scenario's **rate** = the baseline rate less the scenario's points, clamped to 0…1, rounded
  half up to 4 decimals:

  - ``baseline``: no points;
  - ``dip``: ``depth_points`` in months 1…``months``, none from the month after (it recovers at once);
  - ``decline``: ``points_per_month`` × k;
  - ``churn``: ``points_per_month`` × k (default 0: the baseline), and the account churns (below);

* **billable** = attempted × rate, rounded half up (no rate: 0); the rest are failed.

An account's month is priced as its invoice would be: its contract's terms for that month, its
outcomes grouped by type and complexity tier as the invoice groups them (billable as resolved,
failed as unresolved attempts — charged only where the contract charges attempts — split over the
tiers by the share of each tier in the history's resolved outcomes; a gain-share type adds its
history's mean share per outcome), the carry (rolled-over credits, commitment spend) of the month
before. Its **revenue** is what that invoice charges for its own period (``spend``: fees, outcomes,
adjustments; the caller passes :func:`billing.charges.own_spend`), in the account's currency.

**Churn** (scenario ``churn`` only): an account's projected rate in a month is its billable ÷ its
attempted over every type (4 decimals). From the first month where that rate is below its threshold
(the scenario's ``threshold``, else the account's ``min_attainment``; neither: it never churns;
equal is not below; no attempted outcome, no rate, no churn) the account is churned: that month and
every one after count no outcome and no revenue for it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from billing.pricing import Group, PeriodInput, PricedInvoice, price_period
from finance.attainment import RATE_PLACES, rate, rate_text
from outcomeportal.core.money import ZERO, money_str, round_event

SCENARIOS = ("baseline", "dip", "decline", "churn")
HISTORY_MONTHS = 6
MIN_MONTHS, MAX_MONTHS, DEFAULT_MONTHS = 3, 12, 6
# The page's (and the API's) defaults for a scenario's parameters.
DEFAULT_DEPTH_POINTS = Decimal(10)
DEFAULT_DIP_MONTHS = 3
DEFAULT_POINTS_PER_MONTH = Decimal(2)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str  # one of SCENARIOS
    months: int  # how many months to project
    depth_points: Decimal = DEFAULT_DEPTH_POINTS  # dip: percentage points below the baseline
    dip_months: int = DEFAULT_DIP_MONTHS  # dip: how long
    points_per_month: Decimal = ZERO  # decline (and churn): percentage points lost each month
    threshold: Decimal | None = None  # churn: for every account; None: each account's min_attainment

    def shift(self, k: int) -> Decimal:
        """The points taken off the baseline rate in month ``k`` (1-based), as a ratio."""
        if self.name == "dip":
            return self.depth_points / 100 if k <= self.dip_months else ZERO
        if self.name in ("decline", "churn"):
            return self.points_per_month * k / 100
        return ZERO


def scenario_of(name: str, months: int, params: dict) -> Scenario:
    """The scenario the API's (or the page's) parameters describe, defaults filled in: ``depth_points``
    and ``months`` (dip), ``points_per_month`` (decline; churn, default 0), ``threshold`` (churn)."""
    return Scenario(
        name=name,
        months=months,
        depth_points=params.get("depth_points", DEFAULT_DEPTH_POINTS),
        dip_months=params.get("months", DEFAULT_DIP_MONTHS),
        points_per_month=params.get("points_per_month", DEFAULT_POINTS_PER_MONTH if name == "decline" else ZERO),
        threshold=params.get("threshold"),
    )


@dataclass(frozen=True, slots=True)
class TypeHistory:
    """One outcome type of one account over the history months (oldest first)."""

    outcome_type: str
    attempted: tuple[int, ...]
    billable: tuple[int, ...]
    # Resolved outcomes per complexity tier over the history, as the invoice groups them ("" none).
    tiers: tuple[tuple[str, int], ...] = ()
    gain_per_outcome: Decimal = ZERO  # gain-share: the history's mean share per resolved outcome


@dataclass(frozen=True, slots=True)
class AccountHistory:
    account: str  # external id
    currency: str
    min_attainment: Decimal | None
    types: tuple[TypeHistory, ...]
    # One per projected month: what it is priced from besides its outcomes (terms, default prices;
    # the first also the carry of the last invoice and the month's prepaid credits). The months after
    # the first take the carry the month before hands on.
    inputs: tuple[PeriodInput, ...]


@dataclass(frozen=True, slots=True)
class AccountMonth:
    account: str
    currency: str
    period: str
    attempted: int
    billable: int
    rate: Decimal | None
    revenue: Decimal
    churned: bool


@dataclass(frozen=True, slots=True)
class Month:
    """The scope's figures of one month: outcomes added over its accounts, revenue per currency."""

    period: str
    attempted: int
    billable: int
    revenue: dict[str, Decimal] = field(default_factory=dict)  # currency → amount
    churned_accounts: int = 0  # accounts churned in this month or before

    @property
    def rate(self) -> Decimal | None:
        return rate(self.billable, self.attempted)

    def as_api(self) -> dict:
        return {
            "period": self.period,
            "attempted": self.attempted,
            "billable": self.billable,
            "attainment_rate": rate_text(self.rate),
            "revenue": [{"currency": c, "amount": money_str(a, c)} for c, a in sorted(self.revenue.items())],
            "churned_accounts": self.churned_accounts,
        }


@dataclass(frozen=True, slots=True)
class Churn:
    account: str
    period: str  # the first month it counts nothing
    rate: Decimal  # its projected rate that month
    threshold: Decimal


@dataclass(frozen=True, slots=True)
class Projection:
    scenario: Scenario
    months: list[Month]
    accounts: list[AccountMonth]
    churns: list[Churn]


def trend_at(points: Sequence[tuple[int, Decimal]], x: int) -> Decimal | None:
    """The least-squares line through ``points`` (x, y), read at ``x``; one point: its y; none: None."""
    if not points:
        return None
    if len(points) == 1:
        return points[0][1]
    n = Decimal(len(points))
    mean_x = sum((Decimal(px) for px, _ in points), ZERO) / n
    mean_y = sum((py for _, py in points), ZERO) / n
    sxx = sum(((px - mean_x) ** 2 for px, _ in points), ZERO)
    sxy = sum(((px - mean_x) * (py - mean_y) for px, py in points), ZERO)
    return mean_y + sxy / sxx * (x - mean_x)


def _whole(value: Decimal) -> int:
    return int(value.quantize(ONE, rounding=ROUND_HALF_UP))


def projected_attempted(history: tuple[int, ...], k: int) -> int:
    """Month k's attempted outcomes: the history's trend, never below 0. The months before the first
    with an attempted outcome are left out (the type had not started: an account six weeks old is
    not a rise from zero)."""
    start = next((i for i, v in enumerate(history) if v > 0), len(history))
    points = [(x, Decimal(v)) for x, v in enumerate(history, start=1) if x > start]
    line = trend_at(points, len(history) + k)
    return max(0, _whole(line)) if line is not None else 0


def baseline_rate(attempted: tuple[int, ...], billable: tuple[int, ...], k: int) -> Decimal | None:
    """Month k's baseline rate: the trend of the history's rates (months with a rate), clamped to 0…1."""
    points = [(x, rate(b, a)) for x, (a, b) in enumerate(zip(attempted, billable, strict=True), start=1) if a > 0]
    line = trend_at(points, len(attempted) + k)
    return None if line is None else min(max(line, ZERO), ONE)


def scenario_rate(base: Decimal | None, scenario: Scenario, k: int) -> Decimal | None:
    if base is None:
        return None
    return min(max(base - scenario.shift(k), ZERO), ONE).quantize(RATE_PLACES, rounding=ROUND_HALF_UP)


def split(total: int, shares: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """``total`` over the keys in proportion to their shares: largest remainder, ties to the earlier
    key (no share at all: all to "")."""
    weight = sum(n for _, n in shares)
    if not weight:
        return (("", total),)
    exact = [(key, Decimal(total) * n / weight) for key, n in shares]
    parts = {key: int(value) for key, value in exact}
    left = total - sum(parts.values())
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i][1] - int(exact[i][1])), i))
    for i in by_remainder[:left]:
        parts[exact[i][0]] += 1
    return tuple((key, parts[key]) for key, _ in shares)


class Memo:
    """What the four scenarios of one request share: the baseline's trends (the same in every
    scenario), the tier splits and the months priced — each a pure function of its arguments, kept
    for the request (not the process: a request asks again only what another already answered)."""

    def __init__(self):
        self._seen: dict = {}
        self._equal: dict = {}  # a value → the first value equal to it (hashed once)
        self._by_id: dict[int, tuple] = {}  # id(value) → (value, its first equal): hashed once per object

    def __call__(self, function: Callable, *args):
        return self.keyed((function, *args), function, *args)

    def keyed(self, key, function: Callable, *args):
        """``function(*args)`` kept under ``key``: a cheaper key than the arguments themselves where they
        are large (a month's pricing input holds the whole contract), and equal whenever they are."""
        found = self._seen.get(key, self)
        if found is self:
            found = self._seen[key] = function(*args)
        return found

    def canonical(self, value):
        """The first value equal to ``value`` seen by this memo: its identity then stands for its
        content in keys (equal months of different accounts share their pricing), hashing it once."""
        kept = self._by_id.get(id(value))
        if kept is None:
            kept = self._by_id[id(value)] = (value, self._equal.setdefault(value, value))
        return kept[1]


class _Direct:
    """No memory: each call computes (a single projection, the tests of one function)."""

    def __call__(self, function: Callable, *args):
        return function(*args)

    def keyed(self, key, function: Callable, *args):
        return function(*args)

    def canonical(self, value):
        return value


_direct = _Direct()


def groups_of(t: TypeHistory, billable: int, failed: int, memo: Memo | _Direct = _direct) -> list[Group]:
    """A type's projected outcomes as the invoice groups them: by complexity tier."""
    shares = tuple(t.tiers)
    out = []
    for (tier, resolved), (_, unresolved) in zip(
        memo(split, billable, shares), memo(split, failed, shares), strict=True
    ):
        if resolved or unresolved:
            gain = round_event(resolved * t.gain_per_outcome) if t.gain_per_outcome else ZERO
            out.append(Group(t.outcome_type, tier, resolved, unresolved, gain))
    return out


def _price_month(base: PeriodInput, groups: tuple[Group, ...], carry_in) -> PricedInvoice:
    return price_period(replace(base, groups=groups, carry_in=carry_in))


def project_account(
    account: AccountHistory,
    *,
    scenario: Scenario,
    periods: Sequence[str],
    spend: Callable[[PricedInvoice], Decimal],
    memo: Memo | _Direct = _direct,
) -> tuple[list[AccountMonth], Churn | None]:
    """One account's months under ``scenario`` (``periods``: the projected months, in order);
    ``memo`` (a :class:`Memo`) keeps what another scenario of the same request computed already."""
    threshold = scenario.threshold if scenario.threshold is not None else account.min_attainment
    rows: list[AccountMonth] = []
    churn: Churn | None = None
    carry = None
    for k, period in enumerate(periods, start=1):
        if churn is not None:
            rows.append(AccountMonth(account.account, account.currency, period, 0, 0, None, ZERO, True))
            continue
        groups: list[Group] = []
        attempted = billable = 0
        for t in account.types:
            # Keyed by the type's history — the first equal one's identity, its content hashed once —:
            # the same in every scenario and for equal histories, so the baseline's trend and a month's
            # tier split are computed once.
            t = memo.canonical(t)
            a = memo.keyed((projected_attempted, id(t), k), projected_attempted, t.attempted, k)
            base_rate = memo.keyed((baseline_rate, id(t), k), baseline_rate, t.attempted, t.billable, k)
            r = scenario_rate(base_rate, scenario, k)
            b = 0 if r is None else min(a, _whole(a * r))
            attempted, billable = attempted + a, billable + b
            groups += memo.keyed((groups_of, id(t), b, a - b), groups_of, t, b, a - b, memo)
        month_rate = rate(billable, attempted)
        if scenario.name == "churn" and threshold is not None and month_rate is not None and month_rate < threshold:
            churn = Churn(account.account, period, month_rate, threshold)
            rows.append(AccountMonth(account.account, account.currency, period, 0, 0, None, ZERO, True))
            continue
        base = memo.canonical(account.inputs[k - 1])
        carry_in = base.carry_in if carry is None else carry
        groups_key = tuple(groups)
        # Keyed by the month's base input — by identity, its content hashed once (it holds the whole
        # contract) — and what the scenario changes in it.
        priced = memo.keyed((price_period, id(base), groups_key, carry_in), _price_month, base, groups_key, carry_in)
        carry = priced.carry_out
        rows.append(
            AccountMonth(
                account.account, account.currency, period, attempted, billable, month_rate, spend(priced), False
            )
        )
    return rows, churn


def project(
    accounts: Iterable[AccountHistory],
    *,
    scenario: Scenario,
    periods: Sequence[str],
    spend: Callable[[PricedInvoice], Decimal],
    memo: Memo | _Direct = _direct,
) -> Projection:
    """The scope's months under ``scenario``: each account projected alone, then added up."""
    per_account: list[AccountMonth] = []
    churns: list[Churn] = []
    for account in accounts:
        rows, churn = project_account(account, scenario=scenario, periods=periods, spend=spend, memo=memo)
        per_account += rows
        if churn is not None:
            churns.append(churn)
    months = []
    for period in periods:
        mine = [r for r in per_account if r.period == period]
        revenue: dict[str, Decimal] = {}
        for r in mine:
            revenue[r.currency] = revenue.get(r.currency, ZERO) + r.revenue
        months.append(
            Month(
                period=period,
                attempted=sum(r.attempted for r in mine),
                billable=sum(r.billable for r in mine),
                revenue=revenue,
                churned_accounts=sum(1 for r in mine if r.churned),
            )
        )
    return Projection(scenario=scenario, months=months, accounts=per_account, churns=churns)


def history_months(accounts: Iterable[AccountHistory], periods: Sequence[str]) -> list[Month]:
    """The scope's history months (attempted and billable over its accounts; no revenue)."""
    accounts = list(accounts)
    return [
        Month(
            period=period,
            attempted=sum(t.attempted[i] for a in accounts for t in a.types),
            billable=sum(t.billable[i] for a in accounts for t in a.types),
        )
        for i, period in enumerate(periods)
    ]
