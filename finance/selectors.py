"""The finance figures' inputs, read from the rollups — never by scanning events.

Counts come from metering's ``DailyRollup`` and billing's ``ChargeRollup`` through billing's shown
counts (:mod:`billing.audit.counts`): the status and reason customers see, per account, local
month and outcome type. The figures themselves are defined in the pure modules
(:mod:`finance.attainment`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import Account, AccountLifecycleChange
from accounts.selectors import account_statuses_at
from billing.audit.counts import shown_counts_sql
from finance.attainment import TRAILING_MONTHS, AttainmentRow, Count, attainment_rows
from metering.models import OutcomeType
from outcomeportal.core.periods import period_add, period_at, period_first_day, period_of, periods_between

MAX_MONTHS = 24
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


def shown_month_counts(*, first_period: str, last_period: str) -> list[Count]:
    """Outcomes per account, local month, outcome type, shown status and reason, over the periods."""
    first_day, end_day = period_first_day(first_period), period_first_day(period_add(last_period, 1))
    sql = shown_counts_sql(
        where="r.day >= %(first)s AND r.day < %(end)s",
        group="account_id, date_trunc('month', day)::date, outcome_type_id, status, reason",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"first": first_day, "end": end_day})
        rows = cursor.fetchall()
    accounts = account_dimensions()
    types = dict(OutcomeType.objects.values_list("pk", "code"))
    return [
        Count(
            account=accounts[account_id],
            outcome_type=types[type_id],
            period=period_of(month),
            status=status,
            reason=reason,
            n=int(n),
        )
        for account_id, month, type_id, status, reason, n in rows
    ]


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
    counts = shown_month_counts(first_period=period_add(periods[0], -TRAILING_MONTHS), last_period=period)
    drop = drop_points_setting()
    rows = attainment_rows(counts, group_by=group_by, periods=periods, drop_points=drop)
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
