"""The daily rollup also keys on the events' reported complexity and on whether the spend cap
ruled them out, so billing can price a period from it exactly as the invoice prices it.

* ``complexity``: complexity-tier prices (and which tier the included outcomes cover) depend on it.
* ``capped``: an unresolved attempt stored while the account was paused keeps its own reason
  (``abandoned``…) but is not charged a ticket or conversation fee; the invoice leaves it out,
  and the rollup has to tell it apart to do the same.

The statement-level triggers of migration 0002 are replaced with the longer key, and the rollup
is rebuilt from the events (one grouped scan), so existing installs carry their figures over.
"""

from django.db import migrations, models

_KEY = "account_id, day, outcome_type_id, complexity, status, non_billable_reason, capped"
_OLD_KEY = "account_id, day, outcome_type_id, status, non_billable_reason"


def _side(table: str, sign: str, new: bool) -> str:
    extra = "t.complexity, " if new else ""
    capped = ", (t.status = 'non_billable' AND t.state ? 'cap_reached') AS capped" if new else ""
    return (
        f"SELECT t.account_id, (t.occurred_at AT TIME ZONE a.timezone)::date AS day, t.outcome_type_id, {extra}"
        f"t.status, t.non_billable_reason{capped}, {sign}1 AS events, {sign}coalesce(t.amount, 0) AS amount, "
        f"{sign}coalesce(t.credits, 0) AS credits FROM {table} t JOIN accounts_account a ON a.id = t.account_id"
    )


def _functions(key: str, new: bool) -> list[str]:
    upsert = (
        "INSERT INTO metering_dailyrollup AS r ({key}, events, amount, credits) "
        "SELECT {key}, sum(events), sum(amount), sum(credits) FROM ({rows}) d GROUP BY {key} "
        "HAVING sum(events) <> 0 OR sum(amount) <> 0 OR sum(credits) <> 0 ORDER BY {key} "
        "ON CONFLICT ({key}) DO UPDATE SET events = r.events + EXCLUDED.events, "
        "amount = r.amount + EXCLUDED.amount, credits = r.credits + EXCLUDED.credits;"
    )
    bodies = {
        "metering_rollup_insert": _side("new_rows", "+", new),
        "metering_rollup_update": _side("old_rows", "-", new) + " UNION ALL " + _side("new_rows", "+", new),
        "metering_rollup_delete": _side("old_rows", "-", new),
    }
    return [
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        + upsert.format(key=key, rows=rows)
        + " RETURN NULL; END $$;"
        for name, rows in bodies.items()
    ]


def _rebuild(key: str, new: bool) -> list[str]:
    return [
        "TRUNCATE metering_dailyrollup;",
        f"INSERT INTO metering_dailyrollup ({key}, events, amount, credits) SELECT {key}, sum(events), sum(amount), "
        f"sum(credits) FROM ({_side('metering_event', '+', new)}) d GROUP BY {key};",
    ]


class Migration(migrations.Migration):
    dependencies = [("metering", "0011_outcome_type_price_not_negative")]

    operations = [
        migrations.AddField(
            model_name="dailyrollup", name="complexity", field=models.CharField(blank=True, default="", max_length=16)
        ),
        migrations.AddField(model_name="dailyrollup", name="capped", field=models.BooleanField(default=False)),
        migrations.RemoveConstraint(model_name="dailyrollup", name="rollup_key_uniq"),
        migrations.AddConstraint(
            model_name="dailyrollup",
            constraint=models.UniqueConstraint(
                fields=("account", "day", "outcome_type", "complexity", "status", "non_billable_reason", "capped"),
                name="rollup_key_uniq",
            ),
        ),
        migrations.RunSQL(_functions(_KEY, True) + _rebuild(_KEY, True), _functions(_OLD_KEY, False)),
    ]
