"""The charge ledger: billing's own row per event that can cost money, and its rollup.

Existing installs carry their data over, in this migration and metering 0013 (which runs right
after it and takes the money out of metering's events):

* every event that can cost money gets its charge — outcomes pending, billable, invoiced, disputed
  or credited; outcomes billing had ruled out (``training_window``, ``pilot_free``, ``cap_reached``,
  ``dispute_credited``: now the charge's reason, the outcome itself pending again in metering until
  settlement rates it); attempts that did not succeed where the contract charges for them — with
  the event's amount, credits, currency
  and invoice line (an event already invoiced keeps its invoice), the contract version governing
  its period, and the reason ``included`` on a platform fee's included line;
* the charge rollup is built from the charges in one grouped scan, then kept by statement-level
  triggers like metering's daily rollup.
"""

import django.db.models.deletion
from django.db import migrations, models

BILLING_REASONS = ("training_window", "pilot_free", "cap_reached", "dispute_credited")
ATTEMPT_REASONS = (
    "abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show", "human_handoff",
    "criteria_not_met", "verification_failed", "reopened_in_window", "reversed_in_window", "escalated_in_window",
)  # fmt: skip
_KEY = "account_id, day, outcome_type_id, complexity, attempt, state, reason"


def _words(words) -> str:
    return ", ".join(f"'{w}'" for w in words)


_FREE, _ATTEMPTS = _words(BILLING_REASONS), _words(ATTEMPT_REASONS)

# The version governing a period (billing.contracts.version_for_period): the latest in force on its
# first day, else the latest starting inside it — per account and local month, not per event.
_COPY = f"""
WITH months AS (
    SELECT DISTINCT e.account_id, date_trunc('month', e.occurred_at AT TIME ZONE a.timezone)::date AS first
    FROM metering_event e JOIN accounts_account a ON a.id = e.account_id
), governing AS (
    SELECT m.account_id, m.first, (
        SELECT v.id FROM billing_contractversion v
        WHERE v.account_id = m.account_id AND v.effective_from < (m.first + interval '1 month')::date
        ORDER BY v.effective_from <= m.first DESC, v.effective_from DESC, v.version DESC LIMIT 1
    ) AS version_id FROM months m
)
INSERT INTO billing_charge (event_id, account_id, outcome_type_id, occurred_at, complexity, value_amount, attempt,
    contract_version_id, amount, credits, currency, state, reason, invoice_line_id)
SELECT e.id, e.account_id, e.outcome_type_id, e.occurred_at, e.complexity, e.value_amount, x.attempt,
    g.version_id, e.amount, e.credits, e.currency,
    CASE
        WHEN x.attempt THEN CASE WHEN e.invoice_line_id IS NOT NULL THEN 'invoiced' ELSE 'rated' END
        WHEN e.status = 'pending' THEN 'estimated'
        WHEN e.status = 'billable' THEN 'rated'
        WHEN e.status IN ('invoiced', 'disputed', 'credited') THEN e.status
        WHEN e.non_billable_reason = 'dispute_credited' THEN 'credited'
        ELSE 'estimated'  -- an allowance or the cap: metering 0013 makes the outcome pending; settlement rates it
    END,
    CASE
        WHEN x.attempt THEN CASE WHEN e.state ? 'cap_reached' THEN 'cap_reached' ELSE '' END
        WHEN e.non_billable_reason IN ({_FREE}) THEN e.non_billable_reason
        WHEN l.kind = 'included' THEN 'included'
        ELSE ''
    END,
    e.invoice_line_id
FROM metering_event e
JOIN accounts_account a ON a.id = e.account_id
JOIN metering_outcometype t ON t.id = e.outcome_type_id
CROSS JOIN LATERAL (SELECT e.status = 'non_billable' AND e.non_billable_reason IN ({_ATTEMPTS}) AS attempt) x
JOIN governing g ON g.account_id = e.account_id
    AND g.first = date_trunc('month', e.occurred_at AT TIME ZONE a.timezone)::date
LEFT JOIN billing_contractversion v ON v.id = g.version_id
LEFT JOIN billing_invoiceline l ON l.id = e.invoice_line_id
WHERE e.status <> 'non_billable' OR e.non_billable_reason IN ({_FREE})
    -- an attempt can cost money only where its contract charges for attempts (per conversation, a
    -- helpdesk ticket fee), or where it was billed or capped already
    OR (x.attempt AND (e.invoice_line_id IS NOT NULL OR e.state ? 'cap_reached'
        OR (v.terms ->> 'basis' = 'per_conversation' AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(
            v.terms -> 'prices') p WHERE p ->> 'outcome_type' = t.code AND p ->> 'model' = 'gain_share'))
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(v.terms -> 'prices') p
                   WHERE p ->> 'outcome_type' = t.code AND p ->> 'model' = 'helpdesk')))
"""


def _side(table: str, sign: str) -> str:
    return (
        f"SELECT t.account_id, (t.occurred_at AT TIME ZONE a.timezone)::date AS day, t.outcome_type_id, t.complexity, "
        f"t.attempt, t.state, t.reason, {sign}1 AS charges, {sign}coalesce(t.amount, 0) AS amount, "
        f"{sign}coalesce(t.credits, 0) AS credits FROM {table} t JOIN accounts_account a ON a.id = t.account_id"
    )


# Statement-level: one grouped upsert per statement (a 1,000-charge batch costs one aggregate), keys
# upserted in sorted order so concurrent statements lock rollup rows in one order.
_UPSERT = (
    f"INSERT INTO billing_chargerollup AS r ({_KEY}, charges, amount, credits) "
    f"SELECT {_KEY}, sum(charges), sum(amount), sum(credits) FROM ({{rows}}) d GROUP BY {_KEY} "
    "HAVING sum(charges) <> 0 OR sum(amount) <> 0 OR sum(credits) <> 0 ORDER BY " + _KEY + " "
    f"ON CONFLICT ({_KEY}) DO UPDATE SET charges = r.charges + EXCLUDED.charges, "
    "amount = r.amount + EXCLUDED.amount, credits = r.credits + EXCLUDED.credits;"
)
_FUNCTIONS = {
    "billing_charge_rollup_insert": _side("new_rows", "+"),
    "billing_charge_rollup_update": _side("old_rows", "-") + " UNION ALL " + _side("new_rows", "+"),
    "billing_charge_rollup_delete": _side("old_rows", "-"),
}
_TRIGGERS = [
    f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    + _UPSERT.format(rows=rows)
    + " RETURN NULL; END $$;"
    for name, rows in _FUNCTIONS.items()
] + [
    "CREATE TRIGGER billing_charge_rollup_insert AFTER INSERT ON billing_charge "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_charge_rollup_insert();",
    "CREATE TRIGGER billing_charge_rollup_update AFTER UPDATE ON billing_charge "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION billing_charge_rollup_update();",
    "CREATE TRIGGER billing_charge_rollup_delete AFTER DELETE ON billing_charge "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION billing_charge_rollup_delete();",
]
_TRIGGERS_DROP = [
    "DROP TRIGGER IF EXISTS billing_charge_rollup_insert ON billing_charge;",
    "DROP TRIGGER IF EXISTS billing_charge_rollup_update ON billing_charge;",
    "DROP TRIGGER IF EXISTS billing_charge_rollup_delete ON billing_charge;",
    *(f"DROP FUNCTION IF EXISTS {name}();" for name in _FUNCTIONS),
]
_ROLLUP_BUILD = (
    f"INSERT INTO billing_chargerollup ({_KEY}, charges, amount, credits) SELECT {_KEY}, sum(charges), sum(amount), "
    f"sum(credits) FROM ({_side('billing_charge', '+')}) d GROUP BY {_KEY};"
)


class Migration(migrations.Migration):

    # The copy reads the money columns that metering 0013 then drops.
    run_before = [("metering", "0013_event_without_money")]

    dependencies = [
        ('accounts', '0004_rate_counters'),
        ('billing', '0006_spend_period_bound'),
        ('metering', '0012_rollup_complexity_capped'),
    ]

    operations = [
        migrations.CreateModel(
            name='Charge',
            fields=[
                ('event', models.OneToOneField(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, primary_key=True, related_name='+', serialize=False, to='metering.event')),
                ('occurred_at', models.DateTimeField()),
                ('complexity', models.CharField(blank=True, max_length=16)),
                ('value_amount', models.DecimalField(blank=True, decimal_places=6, max_digits=18, null=True)),
                ('attempt', models.BooleanField(default=False)),
                ('amount', models.DecimalField(blank=True, decimal_places=6, max_digits=18, null=True)),
                ('credits', models.DecimalField(blank=True, decimal_places=4, max_digits=18, null=True)),
                ('currency', models.CharField(max_length=3)),
                ('state', models.CharField(choices=[('estimated', 'Estimated: the measurement window is open'), ('rated', 'Rated: on the upcoming invoice'), ('invoiced', 'Invoiced'), ('disputed', 'Disputed'), ('credited', 'Credited'), ('void', 'Void: the outcome was ruled out inside its window')], max_length=12)),
                ('reason', models.CharField(blank=True, choices=[('', 'Charged'), ('included', 'Included in the platform fee'), ('training_window', 'Free training window'), ('pilot_free', 'Free pilot allowance'), ('cap_reached', 'Monthly spend cap reached (automation paused)'), ('dispute_credited', 'Credited after a dispute')], max_length=32)),
                ('account', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='accounts.account')),
                ('contract_version', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='billing.contractversion')),
                ('invoice_line', models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='billing.invoiceline')),
                ('outcome_type', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='metering.outcometype')),
            ],
            options={
                'indexes': [models.Index(fields=['account', 'occurred_at', 'event'], name='charge_account_time_idx'), models.Index(condition=models.Q(('reason__in', ['', 'included']), _negated=True), fields=['account', 'reason', '-occurred_at', '-event'], name='charge_account_reason_idx')],
            },
        ),
        migrations.CreateModel(
            name='ChargeRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('complexity', models.CharField(blank=True, default='', max_length=16)),
                ('attempt', models.BooleanField(default=False)),
                ('state', models.CharField(max_length=12)),
                ('reason', models.CharField(blank=True, max_length=32)),
                ('charges', models.BigIntegerField()),
                ('amount', models.DecimalField(decimal_places=6, max_digits=24)),
                ('credits', models.DecimalField(decimal_places=4, max_digits=24)),
                ('account', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.account')),
                ('outcome_type', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='metering.outcometype')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('account', 'day', 'outcome_type', 'complexity', 'attempt', 'state', 'reason'), name='charge_rollup_key_uniq')],
            },
        ),
        migrations.RunSQL(
            "ALTER TABLE billing_charge SET (fillfactor = 50)", "ALTER TABLE billing_charge RESET (fillfactor)"
        ),
        # Every batch updates hundreds of rollup rows in place: room on each page keeps those updates
        # HOT (no new index entry per update).
        migrations.RunSQL(
            "ALTER TABLE billing_chargerollup SET (fillfactor = 50)",
            "ALTER TABLE billing_chargerollup RESET (fillfactor)",
        ),
        migrations.RunSQL([_COPY, _ROLLUP_BUILD, *_TRIGGERS], _TRIGGERS_DROP),
    ]
