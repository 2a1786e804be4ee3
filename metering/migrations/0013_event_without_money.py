"""Metering's events keep their facts and metering's decision; the money moved to billing's charges.

Billing migration 0007 (run just before this one) copied every event's amount, credits, currency,
invoice line and billing state into its charge. This one:

* reads each event as metering decides it: ``invoiced``, ``disputed`` and ``credited`` were billing's
  states of a billable outcome, so the event is ``billable``; an outcome billing had ruled out
  (``training_window``, ``pilot_free``, ``cap_reached``, ``dispute_credited`` — now its charge's
  reason) succeeded as far as metering is concerned, so it is ``pending`` again, queued for
  settlement, which makes it billable and rates its charge; an attempt the cap left uncharged keeps
  its own reason;
* drops billing's four checks from the stored checks (the last four letters) and billing's facts
  from the decision's state;
* drops the money columns, and rebuilds the daily rollup (counts only) with new triggers.
"""

import importlib

from django.db import migrations, models

_BILLING_REASONS = "'training_window', 'pilot_free', 'cap_reached', 'dispute_credited'"
_BILLING_FACTS = "ARRAY['in_training_window', 'pilot_free', 'cap_reached', 'dispute_credited']"
_ROLLUP_TRIGGERS = ("metering_event_rollup_insert", "metering_event_rollup_update", "metering_event_rollup_delete")

_DECISIONS = [
    *(f"ALTER TABLE metering_event DISABLE TRIGGER {t};" for t in _ROLLUP_TRIGGERS),
    "UPDATE metering_event SET status = 'billable' WHERE status IN ('invoiced', 'disputed', 'credited');",
    "WITH again AS (UPDATE metering_event SET status = 'pending', non_billable_reason = '', settled_at = NULL "
    f"WHERE status = 'non_billable' AND non_billable_reason IN ({_BILLING_REASONS}) RETURNING id, window_ends_at) "
    "INSERT INTO metering_pendingwindow (window_ends_at, event_id) SELECT window_ends_at, id FROM again "
    "ON CONFLICT DO NOTHING;",
    f"UPDATE metering_event SET state = state - {_BILLING_FACTS} WHERE state ?| {_BILLING_FACTS};",
    "UPDATE metering_event SET checks = left(checks, 10) WHERE length(checks) > 10;",
    *(f"ALTER TABLE metering_event ENABLE TRIGGER {t};" for t in _ROLLUP_TRIGGERS),
]

_KEY = "account_id, day, outcome_type_id, complexity, status, non_billable_reason"


def _side(table: str, sign: str) -> str:
    return (
        f"SELECT t.account_id, (t.occurred_at AT TIME ZONE a.timezone)::date AS day, t.outcome_type_id, "
        f"t.complexity, t.status, t.non_billable_reason, {sign}1 AS events "
        f"FROM {table} t JOIN accounts_account a ON a.id = t.account_id"
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
# Backwards: migration 0012's functions (its rollup had amounts and the capped flag).
_before = importlib.import_module("metering.migrations.0012_rollup_complexity_capped")
_PREVIOUS = _before._functions(_before._KEY, True)
_REBUILD = [
    "TRUNCATE metering_dailyrollup;",
    f"INSERT INTO metering_dailyrollup ({_KEY}, events) SELECT {_KEY}, sum(events) "
    f"FROM ({_side('metering_event', '+')}) d GROUP BY {_KEY};",
]


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0004_rate_counters'),
        ('metering', '0012_rollup_complexity_capped'),
    ]

    operations = [
        migrations.RunSQL(_DECISIONS, migrations.RunSQL.noop),
        migrations.RemoveConstraint(
            model_name='dailyrollup',
            name='rollup_key_uniq',
        ),
        migrations.RemoveField(
            model_name='dailyrollup',
            name='amount',
        ),
        migrations.RemoveField(
            model_name='dailyrollup',
            name='capped',
        ),
        migrations.RemoveField(
            model_name='dailyrollup',
            name='credits',
        ),
        migrations.RemoveField(
            model_name='event',
            name='amount',
        ),
        migrations.RemoveField(
            model_name='event',
            name='credits',
        ),
        migrations.RemoveField(
            model_name='event',
            name='currency',
        ),
        migrations.RemoveField(
            model_name='event',
            name='invoice_line_id',
        ),
        migrations.AlterField(
            model_name='event',
            name='status',
            field=models.CharField(choices=[('pending', 'Pending'), ('billable', 'Billable'), ('non_billable', 'Not billable')], max_length=16),
        ),
        migrations.AddConstraint(
            model_name='dailyrollup',
            constraint=models.UniqueConstraint(fields=('account', 'day', 'outcome_type', 'complexity', 'status', 'non_billable_reason'), name='rollup_key_uniq'),
        ),
        migrations.RunSQL(_FUNCTIONS + _REBUILD, _PREVIOUS),
    ]
