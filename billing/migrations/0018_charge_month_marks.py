"""The charge month rollup folded on demand: the charge rollup's triggers mark the account-months they touch.

The same change as metering's 0019, for the charges: each trigger upserts the day rows as before and
appends its statement's distinct (account, month) pairs to ``billing_chargemonthmark``; readers fold
the marked months first (billing.ledger.month_rollup). Backwards: the month rollup is rebuilt from
the day rollup, then 0016's functions are restored.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_month = importlib.import_module("billing.migrations.0016_charge_month_rollup")
_KEY, _SUMS, _NAMED_SUMS, _NONZERO, _UPDATE = (
    _month._KEY,
    _month._SUMS,
    _month._NAMED_SUMS,
    _month._NONZERO,
    _month._UPDATE,
)
_ledger = importlib.import_module("billing.migrations.0007_charge_ledger")


def _function(name: str, rows: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"WITH d AS (SELECT {_KEY}, {_NAMED_SUMS} FROM ({rows}) x GROUP BY {_KEY} HAVING {_NONZERO}), "
        f"daily AS (INSERT INTO billing_chargerollup AS r ({_KEY}, {_SUMS}) SELECT {_KEY}, {_SUMS} FROM d "
        f"ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET {_UPDATE}) "
        "INSERT INTO billing_chargemonthmark (account_id, month) "
        "SELECT DISTINCT account_id, date_trunc('month', day)::date FROM d; RETURN NULL; END $$;"
    )


_FUNCTIONS = [_function(name, rows) for name, rows in _ledger._FUNCTIONS.items()]
_BACK = ["TRUNCATE billing_chargemonthrollup;", *_month._BUILD, *_month._FUNCTIONS]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_account_min_attainment"),
        ("billing", "0017_plans"),
        ("metering", "0019_monthly_rollup_marks"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChargeMonthMark",
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
