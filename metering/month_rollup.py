"""Month rollups kept exact on demand: the triggers mark, the readers fold.

The day rollups are exact at every statement (their triggers upsert them in the statement that
writes the events or charges). Their month rollups — what figures over many months read — are not
upserted there any more (migrations metering 0019, billing 0018): a trigger only appends the
(account, month) pairs its statement touched to a mark table, a plain insert of a few rows. Before a
month rollup is read, :func:`months_fold` rebuilds the marked account-months from the day rollup
and removes their marks; an hourly job (``billing.tasks.month_rollups_fold``) keeps the marks few.

Why it is exact under concurrency: marks are appended, never merged, so a mark whose writer has not
committed is invisible to the fold's ``DELETE`` and survives it; the month is folded again next time,
from the day rows its writer committed by then. Folds take one advisory lock, so a reader that
waited for another fold reads that fold's result.

Each fold also counts, per month, that it rebuilt some of the month's rows (``MonthFold``, in its
transaction): a month's count unchanged, its month rows are unchanged — what a reader may keep
figures of closed months under (:func:`months_stamp`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class MonthRollup:
    """A month rollup and where it is folded from: its table, its mark table, its day rollup, the key
    columns after the date, the summed columns, and the condition a group must meet to be kept."""

    table: str
    marks: str
    days: str
    key: str
    sums: str
    keep: str
    lock: int  # the advisory lock's key: one per rollup

    def fold(self) -> int:
        """Rebuild every marked account-month from the day rollup; the number of account-months folded."""
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {self.marks})")
            if not cursor.fetchone()[0]:
                return 0  # the common case: one index-less probe
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [self.lock])
            cursor.execute(
                f"WITH m AS (DELETE FROM {self.marks} RETURNING account_id, month) "
                "SELECT DISTINCT account_id, month FROM m ORDER BY 1, 2"
            )
            marked = cursor.fetchall()
            if not marked:
                return 0  # folded by another reader while this one waited
            keys = [[a for a, _ in marked], [m for _, m in marked]]
            cursor.execute(
                f"DELETE FROM {self.table} r USING unnest(%s::bigint[], %s::date[]) AS k(a, m) "
                "WHERE r.account_id = k.a AND r.month = k.m",
                keys,
            )
            sums = ", ".join(f"sum(d.{c})" for c in self.sums.split(", "))
            key = ", ".join(f"d.{c}" for c in self.key.split(", "))
            cursor.execute(
                "INSERT INTO metering_monthfold AS f (month, folds) SELECT DISTINCT m, 1 FROM unnest(%s::date[]) AS m "
                "ORDER BY m ON CONFLICT (month) DO UPDATE SET folds = f.folds + 1",
                [keys[1]],
            )
            cursor.execute(
                f"INSERT INTO {self.table} (account_id, month, {self.key}, {self.sums}) "
                f"SELECT k.a, k.m, {key}, {sums} FROM unnest(%s::bigint[], %s::date[]) AS k(a, m) "
                f"JOIN {self.days} d ON d.account_id = k.a AND d.day >= k.m "
                "AND d.day < (k.m + interval '1 month')::date "
                f"GROUP BY k.a, k.m, {key} HAVING {self.keep}",
                keys,
            )
        return len(marked)


def months_stamp(months: list) -> tuple:
    """The fold counts of ``months`` (first days): what the month rollups hold for them has not
    changed while this is the same. Fold the marked months first (:meth:`MonthRollup.fold`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT month, folds FROM metering_monthfold WHERE month = ANY(%s) ORDER BY month", [months])
        return tuple(cursor.fetchall())


# Metering's: events by account, local month, outcome type, status and reason (MonthlyRollup).
EVENTS = MonthRollup(
    table="metering_monthlyrollup",
    marks="metering_monthlyrollupmark",
    days="metering_dailyrollup",
    key="outcome_type_id, status, non_billable_reason",
    sums="events, reported_cost, uncosted, uncosted_simple, uncosted_moderate, uncosted_complex",
    keep="sum(d.events) <> 0",
    lock=0x6D6F6E74_68730001,  # "months" 1
)
