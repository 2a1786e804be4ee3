"""The monthly rollup folded on demand: the daily rollup's triggers mark the account-months they touch.

Migration 0018's triggers upserted the month rows in every statement; that cost ingestion 8–11 ms of
PostgreSQL CPU per 1,000 events (bench/README.md, session 11). Now each trigger upserts the day rows
as before and appends the distinct (account, month) pairs of its statement to
``metering_monthlyrollupmark``; readers fold the marked months from the day rows first
(metering.month_rollup). The month rows are exact when this runs, so nothing is marked. Backwards:
the month rollup is rebuilt from the daily rollup, then 0018's functions are restored.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_month = importlib.import_module("metering.migrations.0018_monthly_rollup")
_KEY, _SUMS, _NAMED_SUMS, _UPDATE = _month._KEY, _month._SUMS, _month._NAMED_SUMS, _month._UPDATE
_side = _month._side


def _function(name: str, rows: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"WITH d AS (SELECT {_KEY}, {_NAMED_SUMS} FROM ({rows}) x GROUP BY {_KEY} HAVING sum(events) <> 0), "
        f"daily AS (INSERT INTO metering_dailyrollup AS r ({_KEY}, {_SUMS}) SELECT {_KEY}, {_SUMS} FROM d "
        f"ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET {_UPDATE}) "
        "INSERT INTO metering_monthlyrollupmark (account_id, month) "
        "SELECT DISTINCT account_id, date_trunc('month', day)::date FROM d; RETURN NULL; END $$;"
    )


_FUNCTIONS = [
    _function("metering_rollup_insert", _side("new_rows", "+")),
    _function("metering_rollup_update", _side("old_rows", "-") + " UNION ALL " + _side("new_rows", "+")),
    _function("metering_rollup_delete", _side("old_rows", "-")),
]
_BACK = ["TRUNCATE metering_monthlyrollup;", *_month._BUILD, *_month._FUNCTIONS]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_account_min_attainment"),
        ("metering", "0018_monthly_rollup"),
    ]

    operations = [
        migrations.CreateModel(
            name="MonthlyRollupMark",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
                (
                    "account",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="accounts.account",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(_FUNCTIONS, _BACK),
    ]
