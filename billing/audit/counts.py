"""Events counted by the status and reason customers see, from the two rollups — never from events.

Metering's rollup counts events by its decision (pending, billable, non-billable with metering's
reason); the ledger's rollup counts charges by state and reason. What a customer reads
(billing.ledger.shown) differs from metering's decision in two ways only, and both are read off the
ledger's rollup:

* a charge with one of billing's reasons (allowance, cap, credited after a dispute) makes its
  outcome — pending or billable in metering — *not billable* with that reason;
* a charge invoiced, disputed or credited makes its (billable) outcome read as that state.

So the shown counts are metering's counts, minus those charges under metering's status, plus them
under the shown one: one ``UNION ALL`` over a few hundred rollup rows. Attempts' charges never
change what is shown (their outcome reads as metering decided), nor do void charges (metering ruled
their outcome out itself).
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from billing.ledger.month_rollup import month_rollups_fold
from billing.ledger.shown import BILLING_REASONS
from billing.pricing.attainment import BILLABLE, FAILED, classify
from billing.pricing.types import Attainment
from metering.models import OutcomeType
from outcomeportal.core.periods import period_days

_FREE = ", ".join(f"'{r}'" for r in BILLING_REASONS)
# The ledger's rows that change what is shown, and what they change it from and to.
_MOVES = f"(r.reason IN ({_FREE}) OR r.state IN ('invoiced', 'disputed', 'credited'))"
_FROM_STATUS = "CASE WHEN r.state = 'estimated' THEN 'pending' ELSE 'billable' END"
_TO_STATUS = f"CASE WHEN r.reason IN ({_FREE}) THEN 'non_billable' ELSE r.state END"
_TO_REASON = f"CASE WHEN r.reason IN ({_FREE}) THEN r.reason ELSE '' END"


# The rollups of each grain, and their date column: the day rollups, or the month rollups (the same
# keys with the local month's first day; figures over many months read ~30 times fewer rows there).
_GRAINS = {
    "day": ("metering_dailyrollup", "billing_chargerollup", "r.day"),
    "month": ("metering_monthlyrollup", "billing_chargemonthrollup", "r.month"),
}


def shown_counts_sql(*, where: str, group: str, grain: str = "day", join: str = "") -> str:
    """SQL of the shown counts grouped by ``group`` — any of ``account_id, day, outcome_type_id, status,
    reason`` — over the rollup rows matching ``where`` (a condition on ``r``'s account_id, day — or
    month, with ``grain="month"`` — and outcome_type_id, with named parameters). Columns: the ``group``
    ones, then ``n``; at the month grain ``day`` is the month's first day. ``join`` joins the counts
    (``s``) to another table, whose columns ``group`` may then name (qualify ``s.``'s then)."""
    events, charges, day = _GRAINS[grain]
    return (
        f"SELECT {group}, sum(n) AS n FROM ("
        f"SELECT r.account_id, {day} AS day, r.outcome_type_id, r.status, r.non_billable_reason AS reason, "
        f"r.events AS n FROM {events} r WHERE {where} "
        f"UNION ALL SELECT r.account_id, {day}, r.outcome_type_id, {_FROM_STATUS}, '', -r.charges "
        f"FROM {charges} r WHERE {where} AND NOT r.attempt AND r.state <> 'void' AND {_MOVES} "
        f"UNION ALL SELECT r.account_id, {day}, r.outcome_type_id, {_TO_STATUS}, {_TO_REASON}, r.charges "
        f"FROM {charges} r WHERE {where} AND NOT r.attempt AND r.state <> 'void' AND {_MOVES}"
        f") s {join} GROUP BY {group} HAVING sum(n) <> 0"
    )


def shown_counts(
    *,
    account_id: int,
    first_day: date | None = None,
    end_day: date | None = None,
    outcome_type_id: int | None = None,
    group: str = "status, reason",
) -> list[tuple]:
    """One account's shown counts over [first_day, end_day), grouped by ``group`` (see above).

    Unless ``group`` names the day, the whole local months inside the range are read from the month
    rollups (folded first) and only its partial months' days from the day rollups: the audit table's
    total over two years reads ~30 times fewer rows."""
    if "day" in group:
        return _shown_counts(account_id, [("day", first_day, end_day)], outcome_type_id, group)
    months_from = first_day if first_day is None or first_day.day == 1 else _next_month(first_day)
    months_to = end_day if end_day is None or end_day.day == 1 else end_day.replace(day=1)
    if months_from is not None and months_to is not None and months_from >= months_to:
        return _shown_counts(account_id, [("day", first_day, end_day)], outcome_type_id, group)
    parts = [("month", months_from, months_to)]
    if first_day is not None and first_day < months_from:
        parts.append(("day", first_day, months_from))
    if end_day is not None and months_to < end_day:
        parts.append(("day", months_to, end_day))
    month_rollups_fold()
    return _shown_counts(account_id, parts, outcome_type_id, group)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _shown_counts(
    account_id: int, parts: list[tuple[str, date | None, date | None]], outcome_type_id: int | None, group: str
) -> list[tuple]:
    """The shown counts of ``parts`` — (grain, first, end) ranges that do not overlap — added up."""
    params: dict = {"account": account_id, "type": outcome_type_id}
    statements = []
    for i, (grain, first, end) in enumerate(parts):
        column = _GRAINS[grain][2]
        where = ["r.account_id = %(account)s"]
        if first is not None:
            where.append(f"{column} >= %(first{i})s")
            params[f"first{i}"] = first
        if end is not None:
            where.append(f"{column} < %(end{i})s")
            params[f"end{i}"] = end
        if outcome_type_id is not None:
            where.append("r.outcome_type_id = %(type)s")
        statements.append(shown_counts_sql(where=" AND ".join(where), group=group, grain=grain))
    with connection.cursor() as cursor:
        cursor.execute(statements[0] if len(statements) == 1 else " UNION ALL ".join(f"({s})" for s in statements),
                       params)  # fmt: skip
        rows = cursor.fetchall()
    if len(statements) == 1:
        return [(*row[:-1], int(row[-1])) for row in rows]
    added: dict[tuple, int] = {}
    for row in rows:
        added[row[:-1]] = added.get(row[:-1], 0) + int(row[-1])
    return [(*key, n) for key, n in added.items() if n]


def period_attainment(*, account_id: int, period: str) -> tuple[Attainment, ...]:
    """The account's outcomes of ``period`` (its local month) per outcome type, billable and attempted
    by attainment's rule (billing.pricing.attainment) — what a contract's guarantee is checked with
    when the period's invoice is finalized (one statement over the month rollups)."""
    first, _ = period_days(period)
    tally: dict[int, list[int]] = {}
    month_rollups_fold()
    with connection.cursor() as cursor:
        cursor.execute(
            shown_counts_sql(
                where="r.account_id = %(account)s AND r.month = %(month)s",
                group="outcome_type_id, status, reason",
                grain="month",
            ),
            {"account": account_id, "month": first},
        )
        rows = cursor.fetchall()
    for type_id, status, reason, total in rows:
        counted, n = classify(status, reason), int(total)
        if counted in (BILLABLE, FAILED):
            pair = tally.setdefault(type_id, [0, 0])
            pair[0] += n if counted == BILLABLE else 0
            pair[1] += n
    codes = dict(OutcomeType.objects.filter(pk__in=tally).values_list("pk", "code"))
    return tuple(sorted((Attainment(codes[t], b, a) for t, (b, a) in tally.items()), key=lambda a: a.outcome_type))
