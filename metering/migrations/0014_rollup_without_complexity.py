"""The daily rollup counts events by metering's decision only: complexity leaves its key.

Migration 0012 keyed it on complexity so that billing could price tiers from it; billing now prices
from its own charge rollup (``billing.ledger.ChargeRollup``), so the key is back to (account, local
day, outcome type, status, reason): fewer rows, and a cheaper upsert for every ingested batch.
The triggers are replaced and the rollup rebuilt from the events (one grouped scan), its pages half
empty so that the updates each batch makes stay HOT.
"""

import importlib

from django.db import migrations, models

_KEY = "account_id, day, outcome_type_id, status, non_billable_reason"


def _side(table: str, sign: str) -> str:
    return (
        f"SELECT t.account_id, (t.occurred_at AT TIME ZONE a.timezone)::date AS day, t.outcome_type_id, "
        f"t.status, t.non_billable_reason, {sign}1 AS events FROM {table} t JOIN accounts_account a "
        "ON a.id = t.account_id"
    )


_FUNCTIONS = [
    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"INSERT INTO metering_dailyrollup AS r ({_KEY}, events) SELECT {_KEY}, sum(events) FROM ({rows}) d "
    f"GROUP BY {_KEY} HAVING sum(events) <> 0 ORDER BY {_KEY} "
    f"ON CONFLICT ({_KEY}) DO UPDATE SET events = r.events + EXCLUDED.events; RETURN NULL; END $$;"
    for name, rows in (
        ("metering_rollup_insert", _side("new_rows", "+")),
        ("metering_rollup_update", _side("old_rows", "-") + " UNION ALL " + _side("new_rows", "+")),
        ("metering_rollup_delete", _side("old_rows", "-")),
    )
]
_REBUILD = [
    "TRUNCATE metering_dailyrollup;",
    f"INSERT INTO metering_dailyrollup ({_KEY}, events) SELECT {_KEY}, sum(events) "
    f"FROM ({_side('metering_event', '+')}) d GROUP BY {_KEY};",
]
# Backwards: migration 0013's functions and rollup (keyed on complexity too).
_before = importlib.import_module("metering.migrations.0013_event_without_money")


class Migration(migrations.Migration):
    dependencies = [("metering", "0013_event_without_money")]

    operations = [
        # Every batch updates hundreds of rollup rows in place: room on each page keeps those updates
        # HOT (no new index entry per update).
        migrations.RunSQL(
            "ALTER TABLE metering_dailyrollup SET (fillfactor = 50)",
            "ALTER TABLE metering_dailyrollup RESET (fillfactor)",
        ),
        # Emptied first (rows that differ only by complexity would collide under the new key), rebuilt
        # last; backwards, last too: rebuilt with complexity once the column is back.
        migrations.RunSQL("TRUNCATE metering_dailyrollup", _before._REBUILD),
        migrations.RemoveConstraint(model_name="dailyrollup", name="rollup_key_uniq"),
        migrations.RemoveField(model_name="dailyrollup", name="complexity"),
        migrations.AddConstraint(
            model_name="dailyrollup",
            constraint=models.UniqueConstraint(
                fields=("account", "day", "outcome_type", "status", "non_billable_reason"), name="rollup_key_uniq"
            ),
        ),
        migrations.RunSQL(_FUNCTIONS + _REBUILD, [*_before._FUNCTIONS, "TRUNCATE metering_dailyrollup"]),
    ]
