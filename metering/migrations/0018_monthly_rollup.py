"""The daily rollup by local month (``MonthlyRollup``), for figures over many months (finance).

Kept by the daily rollup's own triggers, in the same statement: each trigger aggregates its
transition rows once by day, upserts the day rows (as before, sorted) and rolls those aggregates up
by month into the month rows (sorted too) — the transition table is read once, and a 1,000-event
batch upserts a few more rows. Built from the daily rollup, so existing data is carried over.
Backwards: migration 0016's functions, then the table goes.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_daily = importlib.import_module("metering.migrations.0016_rollup_delivery_cost")
_KEY, _SUMS, _side = _daily._KEY, _daily._SUMS, _daily._side
_MONTH_KEY = "account_id, month, outcome_type_id, status, non_billable_reason"
_SUM_LIST = _SUMS.split(", ")
_NAMED_SUMS = ", ".join(f"sum({c}) AS {c}" for c in _SUM_LIST)
_UPDATE = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in _SUM_LIST)


def _function(name: str, rows: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"WITH d AS (SELECT {_KEY}, {_NAMED_SUMS} FROM ({rows}) x GROUP BY {_KEY} HAVING sum(events) <> 0), "
        f"daily AS (INSERT INTO metering_dailyrollup AS r ({_KEY}, {_SUMS}) SELECT {_KEY}, {_SUMS} FROM d "
        f"ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET {_UPDATE}) "
        f"INSERT INTO metering_monthlyrollup AS r ({_MONTH_KEY}, {_SUMS}) "
        f"SELECT account_id, date_trunc('month', day)::date, outcome_type_id, status, non_billable_reason, "
        f"{_NAMED_SUMS} FROM d GROUP BY 1, 2, 3, 4, 5 HAVING sum(events) <> 0 ORDER BY 1, 2, 3, 4, 5 "
        f"ON CONFLICT ({_MONTH_KEY}) DO UPDATE SET {_UPDATE}; RETURN NULL; END $$;"
    )


_FUNCTIONS = [
    _function("metering_rollup_insert", _side("new_rows", "+")),
    _function("metering_rollup_update", _side("old_rows", "-") + " UNION ALL " + _side("new_rows", "+")),
    _function("metering_rollup_delete", _side("old_rows", "-")),
]
_BUILD = [
    f"INSERT INTO metering_monthlyrollup ({_MONTH_KEY}, {_SUMS}) "
    f"SELECT account_id, date_trunc('month', day)::date, outcome_type_id, status, non_billable_reason, "
    f"{_NAMED_SUMS} FROM metering_dailyrollup GROUP BY 1, 2, 3, 4, 5 HAVING sum(events) <> 0;",
    "ANALYZE metering_monthlyrollup;",  # the planner's statistics, before the first figure reads it
]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_account_min_attainment"),
        ("metering", "0017_event_amounts_not_negative"),
    ]

    operations = [
        migrations.CreateModel(
            name="MonthlyRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
                ("status", models.CharField(max_length=16)),
                ("non_billable_reason", models.CharField(max_length=32)),
                ("events", models.BigIntegerField()),
                ("reported_cost", models.DecimalField(decimal_places=6, default=0, max_digits=24)),
                ("uncosted", models.BigIntegerField(default=0)),
                ("uncosted_simple", models.BigIntegerField(default=0)),
                ("uncosted_moderate", models.BigIntegerField(default=0)),
                ("uncosted_complex", models.BigIntegerField(default=0)),
                (
                    "account",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
                (
                    "outcome_type",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="metering.outcometype",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["month"], name="monthly_rollup_month_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "month", "outcome_type", "status", "non_billable_reason"),
                        name="monthly_rollup_key_uniq",
                    )
                ],
            },
        ),
        # Rows updated in place by every batch: room on the page for HOT updates, as the daily rollup.
        migrations.RunSQL(
            "ALTER TABLE metering_monthlyrollup SET (fillfactor = 50)",
            "ALTER TABLE metering_monthlyrollup RESET (fillfactor)",
        ),
        # The table is built from the daily rollup before the functions write it (inside this
        # migration's transaction: no event is written in between). Backwards: 0016's functions.
        migrations.RunSQL(_BUILD + _FUNCTIONS, _daily._FUNCTIONS),
    ]
