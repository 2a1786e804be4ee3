"""What the attainment scenarios (:mod:`finance.scenarios`, pure) are computed from, read from the
rollups and the contracts — the selectors of the scenarios page, its CSV and the API.

* the history: the attempted and billable outcomes per account, outcome type and local month of the
  last six closed months — :func:`finance.selectors.shown_month_tallies` classified by
  :func:`finance.attainment.classify`, so "attainment" is the figure's one definition;
* how the invoice groups them: the same months' charge rollup through
  :func:`billing.charges.counts_of` (resolved outcomes per complexity tier, gain-share amounts);
* the contract of each projected month (:func:`billing.selectors.contract_for_period`) and what the
  first is priced from besides its outcomes (:func:`billing.charges.own_inputs`: the last invoice's
  carry, the month's prepaid credits).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.utils import timezone

from accounts import refcache
from accounts.models import Account, LifecycleStatus
from accounts.selectors import account_statuses_at
from billing.charges import Charging, counts_of, own_inputs, own_spend, rollup_rows
from billing.invoices.models import ContractVersion
from billing.ledger.month_rollup import month_rollups_fold
from billing.selectors import contract_for_period
from finance.attainment import BILLABLE, FAILED, rate_text
from finance.models import ScenarioMonth
from finance.scenarios import (
    HISTORY_MONTHS,
    AccountHistory,
    Memo,
    Month,
    Projection,
    Scenario,
    TypeHistory,
    history_months,
    project,
)
from finance.selectors import default_period, shown_month_tallies
from metering.month_rollup import months_stamp
from outcomeportal.core.money import ZERO, round_event
from outcomeportal.core.periods import period_add, period_first_day, period_of, periods_between

# What a scope may name: an account (its external id) and the account's segment fields. Not the
# outcome type: an invoice's fees, minimums and commitments belong to the account, not to a type.
SCOPE_DIMENSIONS = ("account", "tier", "industry", "use_case")


class UnknownAccount(Exception):
    """The scope names an account that does not exist."""


@dataclass(frozen=True, slots=True)
class ScenarioInputs:
    scope: dict[str, str]
    last_closed: str  # the history's last month
    history_periods: list[str]  # oldest first
    periods: list[str]  # the projected months
    accounts: list[AccountHistory]
    history: list[Month]
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)  # shared by the request's scenarios

    def project(self, scenario: Scenario) -> Projection:
        return project(self.accounts, scenario=scenario, periods=self.periods, spend=own_spend, memo=self.memo)

    @property
    def currencies(self) -> list[str]:
        return sorted({a.currency for a in self.accounts})

    def as_api(self, projection: Projection) -> dict:
        """The API's answer (the page's table and the CSV write the same figures)."""
        s = projection.scenario
        params: dict = {}
        if s.name == "dip":
            params = {"depth_points": str(s.depth_points), "months": s.dip_months}
        elif s.name == "decline":
            params = {"points_per_month": str(s.points_per_month)}
        elif s.name == "churn":
            params = {"threshold": rate_text(s.threshold), "points_per_month": str(s.points_per_month)}
        return {
            "scope": self.scope,
            "scenario": s.name,
            "months": s.months,
            "params": params,
            "last_closed": self.last_closed,
            "accounts": len(self.accounts),
            "currencies": self.currencies,
            "history": [
                {k: v for k, v in m.as_api().items() if k not in ("revenue", "churned_accounts")} for m in self.history
            ],
            "projection": [m.as_api() for m in projection.months],
            "churned": [
                {
                    "account": c.account,
                    "period": c.period,
                    "attainment_rate": rate_text(c.rate),
                    "threshold": rate_text(c.threshold),
                }
                for c in projection.churns
            ],
        }


def scope_accounts(*, scope: dict[str, str], now) -> list[Account]:
    """The accounts of the scope not churned at ``now`` (a churned account brings no revenue), by name.
    Raises UnknownAccount when the scope names an account that does not exist."""
    accounts = Account.objects.filter(**{("external_id" if d == "account" else d): v for d, v in scope.items()})
    if "account" in scope and not Account.objects.filter(external_id=scope["account"]).exists():
        raise UnknownAccount(scope["account"])
    statuses = account_statuses_at(at=now)
    return [a for a in accounts.order_by("name", "pk") if statuses.get(a.pk) != LifecycleStatus.CHURNED]


def scenario_inputs(*, scope: dict[str, str], months: int, last_closed: str | None = None) -> ScenarioInputs:
    """The scope's history (the six months ending with ``last_closed``, default the last closed month)
    and contracts for ``months`` projected months after it — the catalogue read under one stamp
    (accounts.refcache), not once per account and month."""
    with refcache.pinned():
        return _scenario_inputs(scope=scope, months=months, last_closed=last_closed)


def _scenario_inputs(*, scope: dict[str, str], months: int, last_closed: str | None) -> ScenarioInputs:
    last_closed = last_closed or default_period()
    history_periods = periods_between(period_add(last_closed, -(HISTORY_MONTHS - 1)), last_closed)
    periods = periods_between(period_add(last_closed, 1), period_add(last_closed, months))
    accounts = scope_accounts(scope=scope, now=timezone.now())

    versions: dict[int, list[ContractVersion]] = defaultdict(list)
    for v in ContractVersion.objects.filter(account__in=accounts):
        versions[v.account_id].append(v)

    def terms_of(account: Account, period: str):
        return contract_for_period(account_id=account.pk, period=period, versions=versions[account.pk])[1]

    tallies, tiers, gains = _history(accounts, history_periods, terms_of)
    first = own_inputs(
        keys=[(a.pk, periods[0]) for a in accounts],
        terms={(a.pk, periods[0]): terms_of(a, periods[0]) for a in accounts},
        currency={a.pk: a.currency for a in accounts},
    )
    histories = []
    for a in accounts:
        types = []
        for (external_id, code), t in sorted(tallies.items()):
            if external_id != a.external_id:
                continue
            billable = tuple(t[BILLABLE])
            attempted = tuple(b + f for b, f in zip(billable, t[FAILED], strict=True))
            resolved, gain = gains.get((external_id, code), (0, ZERO))
            types.append(
                TypeHistory(
                    outcome_type=code,
                    attempted=attempted,
                    billable=billable,
                    tiers=tuple(sorted((tier, n) for tier, n in tiers.get((external_id, code), {}).items() if n)),
                    gain_per_outcome=round_event(gain / resolved) if resolved and gain else Decimal(0),
                )
            )
        base = first[(a.pk, periods[0])]
        inputs = (base, *(replace(base, period=p, terms=terms_of(a, p), prepaid=()) for p in periods[1:]))
        histories.append(
            AccountHistory(
                account=a.external_id,
                currency=a.currency,
                min_attainment=a.min_attainment,
                types=tuple(types),
                inputs=inputs,
            )
        )
    return ScenarioInputs(
        scope=dict(scope),
        last_closed=last_closed,
        history_periods=history_periods,
        periods=periods,
        accounts=histories,
        history=history_months(histories, history_periods),
    )


def _history(accounts: list[Account], history_periods: list[str], terms_of) -> tuple[dict, dict, dict]:
    """The accounts' history months: attempted and billable per (account, type) and month, resolved
    outcomes per complexity tier, and gain-share totals.

    Kept twice under the reference-data stamp (contracts, accounts, catalogue: accounts.refcache) and
    the months' fold counts (their rollups: metering.month_rollup.months_stamp): in the process for
    the scope, and in the database per account and month (:class:`finance.models.ScenarioMonth`), so a
    closed month is counted once — not per request, nor per process."""
    month_rollups_fold()
    months = [period_first_day(p) for p in history_periods]
    folds = months_stamp(months)
    key = (tuple(a.pk for a in accounts), tuple(history_periods), folds)
    kept = refcache.cache("finance.scenario_history")
    found = kept.get(key)
    if found is None:
        if len(kept) >= HISTORY_KEPT:
            kept.clear()
        stamps = {period_of(month): n for month, n in folds}
        months_read = history_months_kept(accounts, history_periods, terms_of, stamps=stamps)
        found = kept[key] = _history_added(accounts, history_periods, months_read)
    return found


HISTORY_KEPT = 64  # scopes kept per process (each a few thousand numbers)


def history_months_kept(
    accounts: list[Account], periods: list[str], terms_of, *, stamps: dict[str, int]
) -> dict[tuple[int, str], dict]:
    """(account id, period) → the month's figures per type code ([billable, failed, {tier: resolved},
    resolved, gain]), from :class:`ScenarioMonth` where its stamp holds, else counted (every account
    of the scope, over the periods that needed it) and kept."""
    ref = refcache.current()
    stamp_of = {p: f"{ref}:{stamps.get(p, 0)}" for p in periods}
    rows = ScenarioMonth.objects.filter(account__in=accounts, period__in=periods).values_list(
        "account_id", "period", "stamp", "types"
    )
    found = {(a, p): types for a, p, stamp, types in rows if stamp == stamp_of[p]}
    stale = sorted({p for a in accounts for p in periods if (a.pk, p) not in found})
    if stale and ref is not None:
        counted = _history_read(accounts, stale, terms_of)
        now = timezone.now()
        ScenarioMonth.objects.bulk_create(
            [
                ScenarioMonth(account_id=a.pk, period=p, stamp=stamp_of[p], types=counted[(a.pk, p)], counted_at=now)
                for a in accounts
                for p in stale
            ],
            update_conflicts=True,
            unique_fields=["account", "period"],
            update_fields=["stamp", "types", "counted_at"],
        )
        found |= counted
    elif stale:
        found |= _history_read(accounts, stale, terms_of)
    return found


def _history_added(accounts: list[Account], history_periods: list[str], months: dict) -> tuple[dict, dict, dict]:
    """The months' figures added up as the scenarios read them: per (external id, type code), the
    billable and failed outcomes of each history month, the resolved outcomes per tier, and (resolved,
    gain) for the gain per outcome."""
    tallies: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(
        lambda: {BILLABLE: [0] * HISTORY_MONTHS, FAILED: [0] * HISTORY_MONTHS}
    )
    tiers: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    gains: dict[tuple[str, str], list] = defaultdict(lambda: [0, ZERO])
    for a in accounts:
        for i, p in enumerate(history_periods):
            for code, (billable, failed, by_tier, resolved, gain) in months.get((a.pk, p), {}).items():
                key = (a.external_id, code)
                if billable or failed:
                    tallies[key][BILLABLE][i] += billable
                    tallies[key][FAILED][i] += failed
                for tier, n in by_tier.items():
                    tiers[key][tier] = tiers[key].get(tier, 0) + n
                if resolved:
                    gains[key][0] += resolved
                    gains[key][1] += Decimal(gain)
    return dict(tallies), dict(tiers), {k: tuple(v) for k, v in gains.items()}


def _history_read(accounts: list[Account], periods: list[str], terms_of) -> dict[tuple[int, str], dict]:
    """Count ``periods`` of ``accounts`` from the rollups: (account id, period) → per type code
    [billable, failed, {tier: resolved}, resolved, gain as a string] — every pair present, empty where
    nothing happened."""
    by_external = {a.external_id: a for a in accounts}
    months: dict[tuple[int, str], dict[str, list]] = {(a.pk, p): {} for a in accounts for p in periods}

    def entry(account_id: int, period: str, code: str) -> list:
        return months[(account_id, period)].setdefault(code, [0, 0, {}, 0, "0"])

    # Attempted and billable per account, type and month (finance.attainment's definition).
    counted = shown_month_tallies(
        first_period=periods[0], last_period=periods[-1], group_by=("account", "outcome_type")
    )
    wanted = set(periods)
    for ((_, external_id), (_, code)), by_period in counted.items():
        account = by_external.get(external_id)
        if account is None:
            continue
        for period, words in by_period.items():
            if period in wanted and (words.get(BILLABLE) or words.get(FAILED)):
                e = entry(account.pk, period, code)
                e[0] += words.get(BILLABLE, 0)
                e[1] += words.get(FAILED, 0)

    # How the invoices grouped the months' resolved outcomes: complexity tiers, gain-share amounts.
    keys = [(a.pk, p) for a in accounts for p in periods]
    rows = rollup_rows(keys=keys, grain="month") if keys else {}
    for a in accounts:
        for p in periods:
            for g in counts_of(rows.get((a.pk, p), ()), Charging.of(terms_of(a, p))).settled:
                e = entry(a.pk, p, g.outcome_type)
                e[2][g.tier] = e[2].get(g.tier, 0) + g.resolved
                e[3] += g.resolved
                e[4] = str(Decimal(e[4]) + g.gain)
    return months


def scenario_scope_choices() -> dict:
    """What the page's scope may be: the accounts (external id, name) and each segment field's values."""
    fields = ("external_id", "name", "tier", "industry", "use_case")
    rows = list(Account.objects.order_by("name", "pk").values_list(*fields))
    return {
        "accounts": [(external_id, name) for external_id, name, *_ in rows],
        "segments": {d: sorted({r[2 + i] for r in rows}) for i, d in enumerate(("tier", "industry", "use_case"))},
    }
