"""The finance figures' inputs, read from the rollups — never by scanning events.

Counts come from metering's ``DailyRollup`` and billing's ``ChargeRollup`` through billing's shown
counts (:mod:`billing.audit.counts`): the status and reason customers see, per account, local
month and outcome type. The figures themselves are defined in the pure modules
(:mod:`finance.attainment`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts import refcache
from accounts.models import Account, AccountLifecycleChange
from accounts.selectors import account_statuses_at
from billing.audit.counts import shown_counts_sql
from billing.invoices.models import InvoiceLine
from billing.ledger.models import COUNTED_REASONS, COUNTED_STATES
from billing.ledger.month_rollup import CHARGES, month_rollups_fold
from finance.attainment import (
    DIMENSIONS,
    TRAILING_MONTHS,
    AttainmentRow,
    Count,
    classify,
    rate_text,
    rows_of_tallies,
)
from finance.margin import CostDay, Earned, MarginRow, margin_rows, spread
from finance.models import LossCount
from metering.models import OutcomeCost, OutcomeType
from metering.month_rollup import EVENTS, months_stamp
from outcomeportal.core.periods import (
    period_add,
    period_at,
    period_bounds,
    period_first_day,
    period_of,
    periods_between,
)

MAX_MONTHS = 24
FIGURES_WORK_MEM = "64MB"  # for the month rollups' grouped reads of many months (a few MB of rows)
DEFAULT_MONTHS = 12


def current_period() -> str:
    """This month, in UTC (each account's own months are its local ones)."""
    return period_at(timezone.now(), "UTC")


def default_period() -> str:
    """The finance area's default last month: the last closed one (UTC). The month under way is
    provisional — its failures are decided at once, its successes only when their windows close."""
    return period_add(current_period(), -1)


def drop_points_setting() -> Decimal:
    """FINANCE_ATTAINMENT_DROP_POINTS: how many points below its trailing mean a segment is falling."""
    return Decimal(str(settings.FINANCE_ATTAINMENT_DROP_POINTS))


def account_dimensions() -> dict[int, dict[str, str]]:
    """Every account's segment values by id: account (external id), tier, industry, use_case."""
    return {
        pk: {"account": external_id, "tier": tier, "industry": industry, "use_case": use_case}
        for pk, external_id, tier, industry, use_case in Account.objects.values_list(
            "pk", "external_id", "tier", "industry", "use_case"
        )
    }


# The SQL of each segment dimension over the shown counts ``s`` joined to their account ``a``.
_DIMENSION_SQL = {
    "account": "a.external_id",
    "tier": "a.tier",
    "industry": "a.industry",
    "use_case": "a.use_case",
    "outcome_type": "s.outcome_type_id",
}


def _shown_month_rows(*, first_period: str, last_period: str, dims: list[str]) -> list[tuple]:
    """The shown counts of the months, grouped in SQL by ``dims`` (in :data:`DIMENSIONS` order), month,
    status and reason: (*dimension values, month, status, reason, n) — from the month rollups."""
    first_day, end_day = period_first_day(first_period), period_first_day(period_add(last_period, 1))
    month_rollups_fold()
    # One aggregation, the account's dimensions joined in: the counts of the months asked, by segment.
    sql = shown_counts_sql(
        where="r.month >= %(first)s AND r.month < %(end)s",
        group=", ".join([*(_DIMENSION_SQL[d] for d in dims), "s.day", "s.status", "s.reason"]),
        grain="month",
        join="JOIN accounts_account a ON a.id = s.account_id",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL work_mem = '{FIGURES_WORK_MEM}'")  # the groups hashed in memory, not sorted on disk
        cursor.execute(sql, {"first": first_day, "end": end_day})
        return cursor.fetchall()


def shown_month_counts(*, first_period: str, last_period: str, group_by: tuple[str, ...] | None = None) -> list[Count]:
    """Outcomes per account, local month, outcome type, shown status and reason, over the periods —
    from the month rollups. With ``group_by`` (segment dimensions), grouped by those in SQL instead:
    each count's ``account`` then holds those dimensions alone (and ``outcome_type`` is ``""`` unless
    it is one), which is all a segment's figures read."""
    dims = [d for d in DIMENSIONS if group_by is None or d in group_by]
    types = dict(OutcomeType.objects.values_list("pk", "code"))
    periods: dict = {}  # month → its period, computed once
    width = len(dims)
    out = []
    for row in _shown_month_rows(first_period=first_period, last_period=last_period, dims=dims):
        segment = dict(zip(dims, row, strict=False))
        month, status, reason, n = row[width:]
        period = periods.get(month) or periods.setdefault(month, period_of(month))
        code = types[segment.pop("outcome_type")] if "outcome_type" in segment else ""
        out.append(Count(account=segment, outcome_type=code, period=period, status=status, reason=reason, n=int(n)))
    return out


def shown_month_tallies(*, first_period: str, last_period: str, group_by: tuple[str, ...]) -> dict:
    """The same counts added up by segment (in ``group_by``'s order), period and the word each counts
    under (finance.attainment.classify) — what attainment reads, without a count object per row.

    Kept in the process under the reference-data stamp (accounts' segments, the catalogue:
    accounts.refcache) and the months' fold counts (metering.month_rollup.months_stamp): a closed
    month is read once, until something in it changes. Read-only for the caller."""
    month_rollups_fold()
    months = [period_first_day(p) for p in periods_between(first_period, last_period)]
    key = (first_period, last_period, tuple(group_by), months_stamp(months))
    kept = refcache.cache("finance.shown_month_tallies")
    found = kept.get(key)
    if found is None:
        if len(kept) >= TALLIES_KEPT:
            kept.clear()
        found = kept[key] = _tallies_read(first_period=first_period, last_period=last_period, group_by=group_by)
    return found


TALLIES_KEPT = 64  # (months, grouping) pairs kept per process


def _tallies_read(*, first_period: str, last_period: str, group_by: tuple[str, ...]) -> dict:
    dims = [d for d in DIMENSIONS if d in group_by]
    types = dict(OutcomeType.objects.values_list("pk", "code"))
    order = [dims.index(d) for d in group_by]
    periods: dict = {}
    words: dict = {}
    width = len(dims)
    tallies: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for row in _shown_month_rows(first_period=first_period, last_period=last_period, dims=dims):
        month, status, reason, n = row[width:]
        values = [types[row[i]] if dims[i] == "outcome_type" else row[i] for i in order]
        segment = tuple(zip(group_by, values, strict=True))
        period = periods.get(month) or periods.setdefault(month, period_of(month))
        word = words.get((status, reason)) or words.setdefault((status, reason), classify(status, reason))
        tallies[segment][period][word] += int(n)
    return {segment: {period: dict(words) for period, words in by.items()} for segment, by in tallies.items()}


@dataclass(frozen=True, slots=True)
class AttainmentReport:
    period: str  # the last month shown
    months: int
    group_by: tuple[str, ...]
    periods: list[str]  # oldest first
    drop_points: Decimal
    rows: list[AttainmentRow]

    def as_api(self) -> dict:
        """The API's answer (the CSV writes the same rows)."""
        return {
            "period": self.period,
            "months": self.months,
            "group_by": list(self.group_by),
            "drop_points": str(self.drop_points),
            "rows": [row.as_api() for row in self.rows],
        }

    def latest(self) -> list[AttainmentRow]:
        """The rows of the last month, one per segment."""
        return [r for r in self.rows if r.period == self.period]


def attainment_report(*, period: str, months: int, group_by: tuple[str, ...]) -> AttainmentReport:
    """Attainment per segment for the ``months`` months ending with ``period`` (the API, the page, the CSV)."""
    periods = periods_between(period_add(period, -(months - 1)), period)
    tallies = shown_month_tallies(
        first_period=period_add(periods[0], -TRAILING_MONTHS), last_period=period, group_by=group_by
    )
    drop = drop_points_setting()
    rows = rows_of_tallies(tallies, periods=periods, drop_points=drop)
    return AttainmentReport(
        period=period, months=months, group_by=group_by, periods=periods, drop_points=drop, rows=rows
    )


def account_lifecycle_rows(*, now) -> list[dict]:
    """Every account with its lifecycle status at ``now`` and the date it took effect."""
    statuses = account_statuses_at(at=now)
    since: dict[int, object] = dict(
        AccountLifecycleChange.objects.filter(effective_at__lte=now)
        .order_by("account_id", "-effective_at", "-id")
        .distinct("account_id")
        .values_list("account_id", "effective_at")
    )
    return [
        {
            "external_id": a.external_id,
            "name": a.name,
            "tier": a.tier,
            "industry": a.industry,
            "use_case": a.use_case,
            "status": statuses[a.pk],
            "since": since.get(a.pk),
        }
        for a in Account.objects.order_by("name")
    ]


# --- Cost and margin (finance.margin) -------------------------------------------------------------


def margin_floor_setting() -> Decimal:
    """FINANCE_MARGIN_FLOOR: the gross margin below which a type is flagged, where it sets none."""
    return (Decimal(settings.FINANCE_MARGIN_FLOOR_PERCENT) / 100).quantize(Decimal("0.0001"))


def catalogue_costs() -> dict[tuple[str, str], list[tuple[date, Decimal]]]:
    """Every catalogue cost by (type code, tier), oldest first."""
    costs: dict[tuple[str, str], list[tuple[date, Decimal]]] = {}
    rows = OutcomeCost.objects.order_by("effective_from").values_list(
        "outcome_type__code", "complexity", "effective_from", "amount"
    )
    for code, tier, effective_from, amount in rows:
        costs.setdefault((code, tier), []).append((effective_from, amount))
    return costs


def accounts_with_currency() -> dict[int, dict[str, str]]:
    dims = account_dimensions()
    for pk, currency in Account.objects.values_list("pk", "currency"):
        dims[pk]["currency"] = currency
    return dims


_COST_SUMS = "sum(reported_cost), sum(uncosted), sum(uncosted_simple), sum(uncosted_moderate), sum(uncosted_complex)"


def cost_days(*, first_day: date, end_day: date, accounts, types) -> list[CostDay]:
    """The rollups' costs per account, local day and type over [first_day, end_day) (whole months).

    A month in which no catalogue cost takes effect after its first day is read from the month
    rollup, as one "day" (its first): every day of it is costed alike. The others day by day.
    """
    changes = {d for d in OutcomeCost.objects.values_list("effective_from", flat=True)}
    months = periods_between(period_of(first_day), period_of(end_day - timedelta(days=1)))
    split = [m for m in months if any(period_first_day(m) < d < period_first_day(period_add(m, 1)) for d in changes)]
    whole = [period_first_day(m) for m in months if m not in split]
    EVENTS.fold()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT account_id, month, outcome_type_id, {_COST_SUMS} FROM metering_monthlyrollup "
            "WHERE month = ANY(%s) GROUP BY 1, 2, 3",
            [whole],
        )
        rows = cursor.fetchall()
        for m in split:
            cursor.execute(
                f"SELECT account_id, day, outcome_type_id, {_COST_SUMS} FROM metering_dailyrollup "
                "WHERE day >= %s AND day < %s GROUP BY 1, 2, 3",
                [period_first_day(m), period_first_day(period_add(m, 1))],
            )
            rows += cursor.fetchall()
    return [
        CostDay(
            account=accounts[a],
            outcome_type=types[t],
            day=day,
            reported_cost=reported,
            uncosted={"": int(n0), "simple": int(n1), "moderate": int(n2), "complex": int(n3)},
        )
        for a, day, t, reported, n0, n1, n2, n3 in rows
    ]


def earned(*, first_period: str, last_period: str, accounts, types) -> list[Earned]:
    """What outcomes earned per account, period and type: their counted charges (the charge rollup) and
    the period's platform fee spread over the types of its included outcomes (the invoice's lines)."""
    first_day, end_day = period_first_day(first_period), period_first_day(period_add(last_period, 1))
    CHARGES.fold()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT account_id, month, outcome_type_id, sum(amount) "
            "FROM billing_chargemonthrollup WHERE month >= %s AND month < %s AND state = ANY(%s) AND reason = ANY(%s) "
            "GROUP BY 1, 2, 3",
            [first_day, end_day, list(COUNTED_STATES), list(COUNTED_REASONS)],
        )
        rows = [
            Earned(account=accounts[a], outcome_type=types[t], period=period_of(month), amount=amount)
            for a, month, t, amount in cursor.fetchall()
        ]
    for (account_id, period), (fee, included) in platform_fees(
        first_period=first_period, last_period=last_period
    ).items():
        for code, share in spread(fee, included).items():
            rows.append(Earned(account=accounts[account_id], outcome_type=code, period=period, amount=share))
    return rows


def platform_fees(*, first_period: str, last_period: str) -> dict[tuple[int, str], tuple[Decimal, dict[str, int]]]:
    """(account id, period) → (its platform fees, its included outcomes per type code), from the invoices
    of those periods (final, or the draft of the month under way)."""
    lines = (
        InvoiceLine.objects.filter(
            invoice__period__gte=first_period,
            invoice__period__lte=last_period,
            kind__in=("platform_fee", "included"),
        )
        .exclude(invoice__status="void")
        .values_list("account_id", "invoice__period", "kind", "outcome_type__code", "quantity", "amount")
    )
    fees: dict[tuple[int, str], tuple[Decimal, dict[str, int]]] = {}
    for account_id, period, kind, code, quantity, amount in lines:
        fee, included = fees.setdefault((account_id, period), (Decimal(0), {}))
        if kind == "platform_fee":
            fees[(account_id, period)] = (fee + amount, included)
        elif code:
            included[code] = included.get(code, 0) + int(quantity)
    return {key: value for key, value in fees.items() if value[0]}


_EVENT_COST_SQL = (
    "coalesce(e.cost_amount, (SELECT oc.amount FROM metering_outcomecost oc WHERE oc.outcome_type_id = "
    "c.outcome_type_id AND oc.complexity IN (c.complexity, '') AND oc.effective_from <= "
    "(c.occurred_at AT TIME ZONE %(tz)s)::date ORDER BY oc.complexity = c.complexity DESC, oc.effective_from DESC "
    "LIMIT 1))"
)
_EARNED_SQL = "coalesce(c.amount, 0) + CASE WHEN c.reason = 'included' THEN f.unit ELSE 0 END"


def _loss_sql(columns: str, tail: str) -> str:
    """Charged outcomes of one account over [start, end) that cost more than they earned; ``f`` is the
    period of each (its local month) with the platform fee's share of one included outcome."""
    return (
        f"SELECT {columns} FROM billing_charge c JOIN metering_event e ON e.id = c.event_id "
        "JOIN unnest(%(periods)s::text[], %(units)s::numeric[]) AS f(period, unit) "
        "ON f.period = to_char(c.occurred_at AT TIME ZONE %(tz)s, 'YYYY-MM') "
        "WHERE c.account_id = %(account)s AND c.occurred_at >= %(start)s AND c.occurred_at < %(end)s "
        "AND NOT c.attempt AND c.state = ANY(%(states)s) AND c.reason = ANY(%(reasons)s) "
        f"AND {_EVENT_COST_SQL} > {_EARNED_SQL} {tail}"
    )


def _loss_params(account: Account, periods: list[str], units: dict[tuple[int, str], Decimal]) -> dict:
    start, _ = period_bounds(periods[0], account.timezone)
    _, end = period_bounds(periods[-1], account.timezone)
    return {
        "account": account.pk,
        "start": start,
        "end": end,
        "tz": account.timezone,
        "periods": periods,
        "units": [units.get((account.pk, p), Decimal(0)) for p in periods],
        "states": list(COUNTED_STATES),
        "reasons": list(COUNTED_REASONS),
    }


def _fee_units(*, first_period: str, last_period: str) -> dict[tuple[int, str], Decimal]:
    """(account id, period) → the platform fee's share of one included outcome."""
    fees = platform_fees(first_period=first_period, last_period=last_period)
    return {key: fee / sum(included.values()) for key, (fee, included) in fees.items() if sum(included.values())}


def loss_counts(*, periods: list[str], accounts) -> list[tuple[dict[str, str], str, str, int]]:
    """Charged outcomes that cost more than they earned, per account, type and period: (account, type,
    period, count) — the one finance figure not in a rollup: it compares event by event.

    Counted per (account, month) once and kept (:class:`finance.models.LossCount`) with the stamp of
    what the count depends on (:func:`_loss_stamps`); a month whose stamp changed — an outcome settled
    or credited, a late one ingested, a fee or a catalogue cost changed — is counted again, one query
    per account over its changed months, on the charge ledger's (account, occurred_at) index.
    """
    units = _fee_units(first_period=periods[0], last_period=periods[-1])
    stamps = _loss_stamps(periods=periods, units=units)
    kept = {
        (row.account_id, row.period): row
        for row in LossCount.objects.filter(account_id__in=list(accounts), period__in=periods)
    }
    stale: dict[int, list[str]] = {}
    for key, stamp in stamps.items():
        if key[0] in accounts and (key not in kept or kept[key].stamp != stamp):
            stale.setdefault(key[0], []).append(key[1])
    if stale:
        types = dict(OutcomeType.objects.values_list("pk", "code"))
        now = timezone.now()
        with connection.cursor() as cursor:
            for account in Account.objects.filter(pk__in=list(stale)):
                months = sorted(stale[account.pk])
                counted: dict[str, dict[str, int]] = {p: {} for p in months}
                cursor.execute(
                    _loss_sql("c.outcome_type_id, f.period, count(*)", "GROUP BY 1, 2"),
                    _loss_params(account, months, units),
                )
                for type_id, period, n in cursor.fetchall():
                    counted[period][types[type_id]] = n
                for period, counts in counted.items():
                    kept[(account.pk, period)] = LossCount.objects.update_or_create(
                        account_id=account.pk,
                        period=period,
                        defaults={"stamp": stamps[(account.pk, period)], "counts": counts, "counted_at": now},
                    )[0]
    return [
        (accounts[account_id], code, period, n)
        for (account_id, period), row in kept.items()
        if (account_id, period) in stamps
        for code, n in row.counts.items()
    ]


def _loss_stamps(*, periods: list[str], units: dict[tuple[int, str], Decimal]) -> dict[tuple[int, str], str]:
    """(account id, period) → the stamp of what its loss outcomes are counted from, for every account
    month with counted outcome charges: the month rollup's rows of those charges (type, complexity,
    state, reason, count, amount), the platform fee's share of an included outcome, and every catalogue
    cost. The events' costs are facts (never changed), so these are all that can move the count."""
    CHARGES.fold()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT md5(coalesce(string_agg(concat_ws(':', id, outcome_type_id, complexity, effective_from, amount), "
            "',' ORDER BY id), '')) FROM metering_outcomecost"
        )
        catalogue = cursor.fetchone()[0]
        cursor.execute(
            "SELECT account_id, month, md5(string_agg(concat_ws(':', outcome_type_id, complexity, state, reason, "
            "charges, amount), ',' ORDER BY outcome_type_id, complexity, state, reason)) "
            "FROM billing_chargemonthrollup WHERE month = ANY(%s) AND NOT attempt AND state = ANY(%s) "
            "AND reason = ANY(%s) AND charges <> 0 GROUP BY 1, 2",
            [[period_first_day(p) for p in periods], list(COUNTED_STATES), list(COUNTED_REASONS)],
        )
        rows = cursor.fetchall()
    stamps = {}
    for account_id, month, charges in rows:
        period = period_of(month)
        unit = units.get((account_id, period), Decimal(0))
        stamps[(account_id, period)] = hashlib.sha256(f"{charges}|{unit}|{catalogue}".encode()).hexdigest()[:32]
    return stamps


@dataclass(frozen=True, slots=True)
class LossEvent:
    event_id: str
    outcome_type: str
    occurred_at: datetime
    cost: Decimal
    earned: Decimal


def loss_events(*, account: Account, period: str, outcome_type: str | None = None, limit: int = 500) -> list[LossEvent]:
    """The charged outcomes of one account and period that cost more than they earned, newest first."""
    units = _fee_units(first_period=period, last_period=period)
    params = {**_loss_params(account, [period], units), "limit": limit}
    tail = "ORDER BY c.occurred_at DESC, c.event_id DESC LIMIT %(limit)s"
    if outcome_type:
        tail = "AND c.outcome_type_id = %(type)s " + tail
        params["type"] = OutcomeType.objects.filter(code=outcome_type).values_list("pk", flat=True).first() or 0
    types = dict(OutcomeType.objects.values_list("pk", "code"))
    with connection.cursor() as cursor:
        cursor.execute(
            _loss_sql(f"e.event_id, c.outcome_type_id, c.occurred_at, {_EVENT_COST_SQL}, {_EARNED_SQL}", tail), params
        )
        return [LossEvent(eid, types[t], at, cost, earned) for eid, t, at, cost, earned in cursor.fetchall()]


@dataclass(frozen=True, slots=True)
class MarginReport:
    period: str
    months: int
    group_by: tuple[str, ...]
    periods: list[str]
    default_floor: Decimal
    rows: list[MarginRow]

    def as_api(self) -> dict:
        return {
            "period": self.period,
            "months": self.months,
            "group_by": list(self.group_by),
            "default_margin_floor": rate_text(self.default_floor),
            "rows": [r.as_api() for r in self.rows],
        }

    def latest(self) -> list[MarginRow]:
        return [r for r in self.rows if r.period == self.period]


def outcome_type_names() -> dict[str, str]:
    """Each outcome type's name in the catalogue, by its code: how the pages name a type."""
    return dict(OutcomeType.objects.values_list("code", "name"))


def margin_report(*, period: str, months: int, group_by: tuple[str, ...]) -> MarginReport:
    """Charged, cost and gross margin per segment, month and currency (the API, the page, the CSV)."""
    periods = periods_between(period_add(period, -(months - 1)), period)
    accounts = accounts_with_currency()
    types = dict(OutcomeType.objects.values_list("pk", "code"))
    floors = {
        code: floor for code, floor in OutcomeType.objects.values_list("code", "margin_floor") if floor is not None
    }
    default = margin_floor_setting()
    rows = margin_rows(
        cost_days=cost_days(
            first_day=period_first_day(periods[0]),
            end_day=period_first_day(period_add(period, 1)),
            accounts=accounts,
            types=types,
        ),
        earned=earned(first_period=periods[0], last_period=period, accounts=accounts, types=types),
        losses=loss_counts(periods=periods, accounts=accounts),
        costs=catalogue_costs(),
        floors=floors,
        default_floor=default,
        group_by=group_by,
    )
    return MarginReport(
        period=period, months=months, group_by=group_by, periods=periods, default_floor=default, rows=rows
    )
