"""Disputes in the money log: the rows it vouches for cannot change, and existing ones are carried over.

* A resolved dispute's resolution (status, when, by whom, the note, the amount and events it
  concerned) and an issued credit (money, credits, credit note) never change, and a resolved
  dispute is never deleted; a decided dispute item neither.
* TRUNCATE is refused on the disputes' tables (``billing_refuse_truncate()``, billing 0013: a
  superuser session with ``outcomeportal.maintenance`` on may — the test suite's flush).
* The genesis: one entry per account with the digests of its resolved and credited disputes as
  found (``disputes.moneylog``'s views), so that verify_ledger passes right after migrating.
"""

from django.db import migrations

from billing.moneylog.genesis import genesis_record

GUARDS_SQL = """
CREATE OR REPLACE FUNCTION disputes_dispute_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'open' THEN
      RAISE EXCEPTION 'dispute % is resolved: it is never deleted', OLD.id USING ERRCODE = 'P0001';
    END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'open' AND (NEW.status, NEW.resolved_at, NEW.resolved_by, NEW.resolution_note, NEW.account_id,
      NEW.amount_at_stake, NEW.currency, NEW.invoice_id, NEW.period) IS DISTINCT FROM (OLD.status, OLD.resolved_at,
      OLD.resolved_by, OLD.resolution_note, OLD.account_id, OLD.amount_at_stake, OLD.currency, OLD.invoice_id,
      OLD.period) THEN
    RAISE EXCEPTION 'dispute % was resolved (%): its resolution never changes', OLD.id, OLD.status
      USING ERRCODE = 'P0001';
  END IF;
  IF OLD.credit_state = 'issued' AND (NEW.credit_state, NEW.credited_amount, NEW.credited_credits, NEW.credited_at,
      NEW.credit_note_id) IS DISTINCT FROM (OLD.credit_state, OLD.credited_amount, OLD.credited_credits,
      OLD.credited_at, OLD.credit_note_id) THEN
    RAISE EXCEPTION 'dispute % was credited: its credit never changes', OLD.id USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER disputes_dispute_guard BEFORE UPDATE OR DELETE ON disputes_dispute
  FOR EACH ROW EXECUTE FUNCTION disputes_dispute_guard();

CREATE OR REPLACE FUNCTION disputes_disputeitem_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'dispute item % was decided: it is never deleted', OLD.id USING ERRCODE = 'P0001';
  END IF;
  IF (to_jsonb(NEW) - 'is_open') IS DISTINCT FROM (to_jsonb(OLD) - 'is_open') OR NEW.is_open THEN
    RAISE EXCEPTION 'dispute item % was decided (%): it never changes', OLD.id, OLD.decision USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER disputes_disputeitem_guard BEFORE UPDATE OR DELETE ON disputes_disputeitem
  FOR EACH ROW WHEN (OLD.decision <> '') EXECUTE FUNCTION disputes_disputeitem_guard();
"""
TABLES = ("disputes_dispute", "disputes_disputeitem", "disputes_disputecredit", "disputes_disputehistory")
TRUNCATE_SQL = [
    f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} FOR EACH STATEMENT "
    "EXECUTE FUNCTION billing_refuse_truncate();"
    for t in TABLES
]
DROP_SQL = [
    *(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t};" for t in TABLES),
    "DROP TRIGGER IF EXISTS disputes_disputeitem_guard ON disputes_disputeitem;",
    "DROP TRIGGER IF EXISTS disputes_dispute_guard ON disputes_dispute;",
    "DROP FUNCTION IF EXISTS disputes_disputeitem_guard(); DROP FUNCTION IF EXISTS disputes_dispute_guard();",
]


def genesis(apps, schema_editor):
    genesis_record(
        registry=apps, views=("dispute_resolution", "dispute_credit"), label="disputes.0003_money_log", charges=False
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0013_money_log"),
        ("disputes", "0002_credits_back"),
    ]

    operations = [
        migrations.RunSQL([GUARDS_SQL, *TRUNCATE_SQL], DROP_SQL),
        migrations.RunPython(genesis, migrations.RunPython.noop),
    ]
