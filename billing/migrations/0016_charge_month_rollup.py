"""The charge rollup by local month (``ChargeMonthRollup``), for figures over many months (finance).

Kept by the charge rollup's own triggers, in the same statement: each aggregates its transition rows
once by day, upserts the day rows (as before, sorted) and rolls those aggregates up by month into the
month rows (sorted too). Built from the charge rollup, so existing data is carried over. Backwards:
migration 0007's functions, then the table goes.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

_ledger = importlib.import_module("billing.migrations.0007_charge_ledger")
_KEY, _side = _ledger._KEY, _ledger._side
_MONTH_KEY = "account_id, month, outcome_type_id, complexity, attempt, state, reason"
_SUMS = "charges, amount, credits"
_NAMED_SUMS = "sum(charges) AS charges, sum(amount) AS amount, sum(credits) AS credits"
_NONZERO = "sum(charges) <> 0 OR sum(amount) <> 0 OR sum(credits) <> 0"
_UPDATE = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in _SUMS.split(", "))


def _function(name: str, rows: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"WITH d AS (SELECT {_KEY}, {_NAMED_SUMS} FROM ({rows}) x GROUP BY {_KEY} HAVING {_NONZERO}), "
        f"daily AS (INSERT INTO billing_chargerollup AS r ({_KEY}, {_SUMS}) SELECT {_KEY}, {_SUMS} FROM d "
        f"ORDER BY {_KEY} ON CONFLICT ({_KEY}) DO UPDATE SET {_UPDATE}) "
        f"INSERT INTO billing_chargemonthrollup AS r ({_MONTH_KEY}, {_SUMS}) "
        f"SELECT account_id, date_trunc('month', day)::date, outcome_type_id, complexity, attempt, state, reason, "
        f"{_NAMED_SUMS} FROM d GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING {_NONZERO} ORDER BY 1, 2, 3, 4, 5, 6, 7 "
        f"ON CONFLICT ({_MONTH_KEY}) DO UPDATE SET {_UPDATE}; RETURN NULL; END $$;"
    )


_FUNCTIONS = [_function(name, rows) for name, rows in _ledger._FUNCTIONS.items()]
_BUILD = [
    f"INSERT INTO billing_chargemonthrollup ({_MONTH_KEY}, {_SUMS}) "
    f"SELECT account_id, date_trunc('month', day)::date, outcome_type_id, complexity, attempt, state, reason, "
    f"{_NAMED_SUMS} FROM billing_chargerollup GROUP BY 1, 2, 3, 4, 5, 6, 7 HAVING {_NONZERO};",
    "ANALYZE billing_chargemonthrollup;",  # the planner's statistics, before the first figure reads it
]
# 0007's functions alone (its list also creates the triggers, which stay).
_BEFORE = [sql for sql in _ledger._TRIGGERS if sql.startswith("CREATE OR REPLACE FUNCTION")]


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0011_account_min_attainment"),
        ("billing", "0015_invoice_attainment"),
        ("metering", "0017_event_amounts_not_negative"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChargeMonthRollup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("month", models.DateField()),
                ("complexity", models.CharField(blank=True, default="", max_length=16)),
                ("attempt", models.BooleanField(default=False)),
                ("state", models.CharField(max_length=12)),
                ("reason", models.CharField(blank=True, max_length=32)),
                ("charges", models.BigIntegerField()),
                ("amount", models.DecimalField(decimal_places=6, max_digits=24)),
                ("credits", models.DecimalField(decimal_places=4, max_digits=24)),
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
                "indexes": [models.Index(fields=["month"], name="charge_month_rollup_month_idx")],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "month", "outcome_type", "complexity", "attempt", "state", "reason"),
                        name="charge_month_rollup_key_uniq",
                    )
                ],
            },
        ),
        migrations.RunSQL(
            "ALTER TABLE billing_chargemonthrollup SET (fillfactor = 50)",
            "ALTER TABLE billing_chargemonthrollup RESET (fillfactor)",
        ),
        # Built from the charge rollup before the functions write it (in this migration's transaction).
        migrations.RunSQL(_BUILD + _FUNCTIONS, _BEFORE),
    ]
