"""The usage dashboard's and the vendor overview's counts, by the status and reason customers see
(billing.audit.counts: both rollups). Money is billing.charges'."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from accounts.models import Account
from billing.audit.counts import shown_counts, shown_counts_sql
from billing.audit.table import CHARGED_STATUSES, STATUS_ORDER
from billing.ledger.month_rollup import month_rollups_fold
from outcomeportal.core.periods import Period

# --- The dashboard ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodSummary:
    """One account's current period's outcomes, from the rollups. Counts only: what they cost is
    billing.charges', which prices them as the invoice does."""

    period: Period
    by_status: dict[str, int]
    total: int
    charged: int
    attempted: int  # decided outcomes, sandbox excluded

    @property
    def attainment(self) -> float | None:
        """Billable ÷ attempted, or None before anything was decided."""
        return self.charged / self.attempted if self.attempted else None


def period_summary(*, account: Account, period: Period) -> PeriodSummary:
    rows = shown_counts(account_id=account.pk, first_day=period.first_day, end_day=period.end_day)
    by_status, charged, attempted = status_tally(rows)
    return PeriodSummary(
        period=period,
        by_status=by_status,
        total=sum(by_status.values()),
        charged=charged,
        attempted=attempted,
    )


def status_tally(rows) -> tuple[dict[str, int], int, int]:
    """(events by status, charged, attempted) of shown counts' (status, reason, n) rows: charged are
    the statuses the customer pays for, attempted the decided outcomes, sandbox excluded — the
    dashboard's attainment is charged ÷ attempted."""
    by_status = dict.fromkeys(STATUS_ORDER, 0)
    attempted = charged = 0
    for status, reason, n in rows:
        by_status[status] = by_status.get(status, 0) + n
        if status in CHARGED_STATUSES:
            charged += n
        if status != "pending" and reason != "sandbox":
            attempted += n
    return by_status, charged, attempted


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Per-day outcome counts for the charts, every day of the range present (zeros included)."""

    days: list[date]
    by_status: dict[str, list[int]]
    reasons: list[tuple[str, int]] = field(default_factory=list)  # (reason word, events), largest first


def daily_series(*, account: Account, first_day: date, end_day: date) -> DailySeries:
    """Outcomes per day by status and non-billable reasons for [first_day, end_day)."""
    days = [first_day + timedelta(days=i) for i in range((end_day - first_day).days)]
    index = {d: i for i, d in enumerate(days)}
    rows = shown_counts(account_id=account.pk, first_day=first_day, end_day=end_day, group="day, status, reason")
    by_status = {s: [0] * len(days) for s in STATUS_ORDER}
    by_reason: dict[str, int] = {}
    for day, status, reason, n in rows:
        by_status.setdefault(status, [0] * len(days))[index[day]] += n
        if reason:
            by_reason[reason] = by_reason.get(reason, 0) + n
    reasons = sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))
    return DailySeries(days=days, by_status=by_status, reasons=reasons)


# --- Vendor overview ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountOverview:
    account_id: int
    external_id: str
    name: str
    tier: str
    industry: str
    currency: str
    outcomes: int
    charged: int
    pending: int
    attempted: int
    previous_charged: int
    previous_attempted: int

    @property
    def attainment(self) -> float | None:
        return self.charged / self.attempted if self.attempted else None

    @property
    def previous_attainment(self) -> float | None:
        return self.previous_charged / self.previous_attempted if self.previous_attempted else None


# Each account's period bounds are computed once (MATERIALIZED), then each account reads its own
# rollup rows through their unique indexes (both rollups: billing.audit.counts): the current
# period's days, and the previous month as one month of the month rollups (folded first) — about
# thirty times fewer rows than its days.
_OVERVIEW_SQL = """
WITH bounds AS MATERIALIZED (
    SELECT a.id, a.external_id, a.name, a.tier, a.industry, a.currency,
           date_trunc('month', %(now)s AT TIME ZONE a.timezone)::date AS period_start,
           (date_trunc('month', %(now)s AT TIME ZONE a.timezone) + interval '1 month')::date AS period_end,
           (date_trunc('month', %(now)s AT TIME ZONE a.timezone) - interval '1 month')::date AS previous_start
    FROM accounts_account a
)
SELECT b.id, b.external_id, b.name, b.tier, b.industry, b.currency,
       s.outcomes, s.charged, s.pending, s.attempted, s.previous_charged, s.previous_attempted
FROM bounds b
CROSS JOIN LATERAL (
    SELECT
        coalesce(sum(x.n) FILTER (WHERE x.day >= b.period_start), 0) AS outcomes,
        coalesce(sum(x.n) FILTER (WHERE x.day >= b.period_start AND x.status = ANY(%(charged)s)), 0) AS charged,
        coalesce(sum(x.n) FILTER (WHERE x.day >= b.period_start AND x.status = 'pending'), 0) AS pending,
        coalesce(sum(x.n) FILTER (WHERE x.day >= b.period_start AND x.status <> 'pending'
                                   AND x.reason <> 'sandbox'), 0) AS attempted,
        coalesce(sum(x.n) FILTER (WHERE x.day < b.period_start AND x.status = ANY(%(charged)s)), 0)
            AS previous_charged,
        coalesce(sum(x.n) FILTER (WHERE x.day < b.period_start AND x.status <> 'pending'
                                   AND x.reason <> 'sandbox'), 0) AS previous_attempted
    FROM (({days}) UNION ALL ({month})) x
) s
ORDER BY b.name, b.id
""".replace(
    "{days}",
    shown_counts_sql(where="r.account_id = b.id AND r.day >= b.period_start AND r.day < b.period_end",
                     group="day, status, reason"),
).replace(
    "{month}",
    shown_counts_sql(where="r.account_id = b.id AND r.month = b.previous_start", group="day, status, reason",
                     grain="month"),
)  # fmt: skip


def accounts_overview(*, now: datetime | None = None) -> list[AccountOverview]:
    """Every account's current period (each in its own time zone) and the previous one's attainment."""
    month_rollups_fold()
    with connection.cursor() as cursor:
        cursor.execute(_OVERVIEW_SQL, {"now": now or timezone.now(), "charged": list(CHARGED_STATUSES)})
        return [
            AccountOverview(
                account_id=row[0],
                external_id=row[1],
                name=row[2],
                tier=row[3],
                industry=row[4],
                currency=row[5],
                outcomes=int(row[6]),
                charged=int(row[7]),
                pending=int(row[8]),
                attempted=int(row[9]),
                previous_charged=int(row[10]),
                previous_attempted=int(row[11]),
            )
            for row in cursor.fetchall()
        ]
