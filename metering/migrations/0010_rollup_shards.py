"""Spread each rollup key over up to 16 rows (``shard``), so concurrent batches stop queueing.

Every ingestion batch adds to the rollup rows of the days it carries, and a platform posts events
as they happen: concurrent batches add to the *same* rows (today's, per account, outcome type and
status). The trigger's upsert row-locks them until the batch commits, so each batch waited for the
one before it to finish its session claims, hooks and commit (30–40 ms per 1,000-event batch):
a ceiling of about one batch per hold time, whatever the number of cores. On the 2-core bench
machine the CPU binds first (an A/B of both trigger versions gave the same throughput); the test
``test_two_batches_of_the_same_day_in_flight_do_not_wait_for_each_other`` shows the queue is gone.
Now each transaction adds to the shard of its transaction id (``txid_current() % 16``): two
batches in flight meet on a row with odds of 1 in 16.

Readers sum a key's rows; ``metering.services.rollup_fold`` (scheduled) sums the shards of past
days back into shard 0. Existing rows are shard 0.
"""

from django.db import migrations, models

KEY = "account_id, day, outcome_type_id, status, non_billable_reason"
SHARDS = 16


def _side(table: str, sign: str) -> str:
    return (
        f"SELECT t.account_id, (t.occurred_at AT TIME ZONE a.timezone)::date AS day, t.outcome_type_id, t.status, "
        f"t.non_billable_reason, {sign}1 AS events, {sign}coalesce(t.amount, 0) AS amount, "
        f"{sign}coalesce(t.credits, 0) AS credits FROM {table} t JOIN accounts_account a ON a.id = t.account_id"
    )


def _function(name: str, rows: str, *, sharded: bool) -> str:
    """The trigger function: one grouped upsert per statement, keys in sorted order (no deadlocks)."""
    shard, conflict = ("_shard", f"{KEY}, shard") if sharded else ("", KEY)
    declare = f"DECLARE _shard smallint := txid_current() % {SHARDS}; " if sharded else ""
    columns = f"{KEY}, shard" if sharded else KEY
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {declare}BEGIN "
        f"INSERT INTO metering_dailyrollup AS r ({columns}, events, amount, credits) "
        f"SELECT {KEY}, {shard + ', ' if shard else ''}sum(events), sum(amount), sum(credits) FROM ({rows}) d "
        f"GROUP BY {KEY} HAVING sum(events) <> 0 OR sum(amount) <> 0 OR sum(credits) <> 0 ORDER BY {KEY} "
        f"ON CONFLICT ({conflict}) DO UPDATE SET events = r.events + EXCLUDED.events, "
        "amount = r.amount + EXCLUDED.amount, credits = r.credits + EXCLUDED.credits; "
        "RETURN NULL; END $$;"
    )


def _functions(*, sharded: bool) -> str:
    return "\n".join(
        [
            _function("metering_rollup_insert", _side("new_rows", "+"), sharded=sharded),
            _function(
                "metering_rollup_update",
                _side("old_rows", "-") + " UNION ALL " + _side("new_rows", "+"),
                sharded=sharded,
            ),
            _function("metering_rollup_delete", _side("old_rows", "-"), sharded=sharded),
        ]
    )


# Back to one row per key: sum the shards into shard 0 first. The rows' foreign keys are checked
# at once: a deferred check still pending would refuse the ALTER TABLE that follows.
UNSHARD_SQL = f"""
SET CONSTRAINTS ALL IMMEDIATE;
WITH moved AS (DELETE FROM metering_dailyrollup WHERE shard <> 0
    RETURNING {KEY}, events, amount, credits)
INSERT INTO metering_dailyrollup AS r ({KEY}, shard, events, amount, credits)
SELECT {KEY}, 0, sum(events), sum(amount), sum(credits) FROM moved GROUP BY {KEY} ORDER BY {KEY}
ON CONFLICT ({KEY}, shard) DO UPDATE SET events = r.events + EXCLUDED.events,
    amount = r.amount + EXCLUDED.amount, credits = r.credits + EXCLUDED.credits;
SET CONSTRAINTS ALL DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0009_session_claim_key")]

    operations = [
        migrations.AddField(
            model_name="dailyrollup",
            name="shard",
            field=models.SmallIntegerField(db_default=0),
        ),
        migrations.RemoveConstraint(model_name="dailyrollup", name="rollup_key_uniq"),
        migrations.AddConstraint(
            model_name="dailyrollup",
            constraint=models.UniqueConstraint(
                fields=("account", "day", "outcome_type", "status", "non_billable_reason", "shard"),
                name="rollup_key_uniq",
            ),
        ),
        migrations.RunSQL(migrations.RunSQL.noop, UNSHARD_SQL),  # backwards: one row per key again
        migrations.RunSQL(_functions(sharded=True), _functions(sharded=False)),
    ]
