"""Trust metrics: how often customers contest charges, and how support answers.

Definitions (the trust page says them in words too):

* **Dispute rate** = disputed outcomes ÷ billed outcomes, per account and per outcome type, over
  the rolling window (30 days: the account's last 30 local days, today included). *Billed*: the
  outcomes that occurred in the window and were charged — ``billable``, ``invoiced``,
  ``disputed``, ``credited``, and those credited out of an open period (``non_billable`` /
  ``dispute_credited``), read from the daily rollup. *Disputed*: those of them that were ever in
  a dispute (each counted once). Above the threshold (3 %), the outcome definition is probably
  too loose, or quality too uneven.
* **Approval rate** = disputes approved or partially approved ÷ disputes resolved in the window.
* **Median time to resolution** = median of (resolved − filed) of the disputes resolved in the window.
* **SLA breaches** = disputes resolved in the window after their SLA, plus open disputes past it now.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection

from accounts.models import Account
from billing.audit.counts import shown_counts_sql
from disputes import conf
from disputes.models import Dispute, DisputeItem, DisputeStatus
from metering.models import OutcomeType

BILLED_STATUSES = ("billable", "invoiced", "disputed", "credited")


@dataclass
class Rate:
    key: str  # the account's external_id, or the outcome type's code
    name: str
    billed: int = 0
    disputed: int = 0

    @property
    def rate(self) -> Decimal | None:
        return Decimal(self.disputed) / Decimal(self.billed) if self.billed else None

    @property
    def percent(self) -> Decimal | None:
        return None if self.rate is None else (self.rate * 100).quantize(Decimal("0.01"))

    def above(self, threshold: Decimal) -> bool:
        return self.rate is not None and self.rate > threshold


@dataclass
class TrustMetrics:
    now: datetime
    days: int
    threshold: Decimal
    accounts: list[Rate] = field(default_factory=list)
    outcome_types: list[Rate] = field(default_factory=list)
    resolved: int = 0
    approved: int = 0  # approved + partially approved
    partially_approved: int = 0
    rejected: int = 0
    median_resolution: timedelta | None = None
    breached_resolved: int = 0  # resolved after the SLA
    breached_open: int = 0  # open and past the SLA now
    open: int = 0

    @property
    def approval_rate(self) -> Decimal | None:
        return Decimal(self.approved) / Decimal(self.resolved) if self.resolved else None

    @property
    def sla_breaches(self) -> int:
        return self.breached_resolved + self.breached_open

    @property
    def total(self) -> Rate:
        return Rate("all", "All accounts", sum(r.billed for r in self.accounts), sum(r.disputed for r in self.accounts))

    @property
    def warnings(self) -> list[tuple[str, Rate]]:
        """("account" | "outcome_type", rate) for every rate above the threshold, worst first."""
        out = [("account", r) for r in self.accounts if r.above(self.threshold)]
        out += [("outcome_type", r) for r in self.outcome_types if r.above(self.threshold)]
        return sorted(out, key=lambda kr: (-kr[1].rate, kr[0], kr[1].key))


def _local_window(account: Account, now: datetime, days: int) -> tuple[date, date]:
    today = now.astimezone(ZoneInfo(account.timezone)).date()
    return today - timedelta(days=days - 1), today


def trust_metrics(*, now: datetime, days: int | None = None, accounts: list[Account] | None = None) -> TrustMetrics:
    days = days or conf.metrics_days()
    out = TrustMetrics(now=now, days=days, threshold=conf.rate_warning())
    accounts = accounts if accounts is not None else list(Account.objects.order_by("name"))
    by_id = {a.pk: a for a in accounts}
    windows = {a.pk: _local_window(a, now, days) for a in accounts}
    types = {t.pk: t for t in OutcomeType.objects.all()}
    account_rates = {a.pk: Rate(a.external_id, a.name) for a in accounts}
    type_rates: dict[int, Rate] = {}

    def type_rate(type_id: int) -> Rate:
        if type_id not in type_rates:
            t = types[type_id]
            type_rates[type_id] = Rate(t.code, t.name)
        return type_rates[type_id]

    if accounts:
        floor = min(w[0] for w in windows.values())
        ids = list(windows)
        with connection.cursor() as cursor:  # by the status customers see: both rollups (billing.audit.counts)
            cursor.execute(
                shown_counts_sql(
                    where="r.account_id = ANY(%(accounts)s) AND r.day >= %(floor)s",
                    # each account's own window (its local days), added up in the database
                    join="JOIN unnest(%(accounts)s::bigint[], %(firsts)s::date[], %(lasts)s::date[]) AS w(a, f, l) "
                    "ON w.a = s.account_id AND s.day BETWEEN w.f AND w.l",
                    group="s.account_id, s.outcome_type_id, s.status, s.reason",
                ),
                {"accounts": ids, "floor": floor, "firsts": [windows[a][0] for a in ids],
                 "lasts": [windows[a][1] for a in ids]},
            )  # fmt: skip
            rollup = cursor.fetchall()
        for account_id, type_id, status, reason, n in rollup:
            billed = status in BILLED_STATUSES or (status == "non_billable" and reason == "dispute_credited")
            if billed:
                account_rates[account_id].billed += n
                type_rate(type_id).billed += n
        disputed = (
            # Only disputes of events inside the window (a day of slack for time zones): the
            # query stays bounded however many disputes the install has seen.
            DisputeItem.objects.filter(
                account_id__in=list(by_id),
                event__occurred_at__gte=datetime.combine(floor, time.min, tzinfo=UTC) - timedelta(days=1),
            )
            .values_list("account_id", "event_id", "event__occurred_at", "event__outcome_type_id")
            .distinct()
        )
        seen: set[int] = set()
        for account_id, event_pk, occurred_at, type_id in disputed:
            if event_pk in seen:
                continue
            seen.add(event_pk)
            first, last = windows[account_id]
            day = occurred_at.astimezone(ZoneInfo(by_id[account_id].timezone)).date()
            if first <= day <= last:
                account_rates[account_id].disputed += 1
                type_rate(type_id).disputed += 1
    out.accounts = sorted(account_rates.values(), key=lambda r: (-(r.rate or 0), r.name))
    out.outcome_types = sorted(type_rates.values(), key=lambda r: (-(r.rate or 0), r.name))

    since = now - timedelta(days=days)
    resolved = list(
        Dispute.objects.filter(account_id__in=list(by_id), resolved_at__gte=since, resolved_at__lt=now)
        .exclude(status=DisputeStatus.OPEN)
        .values_list("status", "filed_at", "resolved_at", "sla_due_at")
    )
    out.resolved = len(resolved)
    out.approved = sum(1 for s, *_ in resolved if s in (DisputeStatus.APPROVED, DisputeStatus.PARTIALLY_APPROVED))
    out.partially_approved = sum(1 for s, *_ in resolved if s == DisputeStatus.PARTIALLY_APPROVED)
    out.rejected = sum(1 for s, *_ in resolved if s == DisputeStatus.REJECTED)
    if resolved:
        out.median_resolution = statistics.median(r - f for _, f, r, _ in resolved)
    out.breached_resolved = sum(1 for _, _, r, due in resolved if r > due)
    open_qs = Dispute.objects.filter(account_id__in=list(by_id), status=DisputeStatus.OPEN)
    out.open = open_qs.count()
    out.breached_open = open_qs.filter(sla_due_at__lt=now).count()
    return out
