"""Void and reissue (billing.invoices.corrections.invoice_void).

* One live invoice per (account, period): the unique constraint leaves void invoices out, so a
  voided invoice's period gets a new draft, which names it (``replaces``).
* Invoices are ordered by id last: of a period's invoices, the voided one comes before its
  replacement.
* Credit-ledger entries of kind ``reversal`` (either sign): each takes back one entry a voided
  invoice posted.
* The charge guard lets a voided invoice's charges leave its lines: ``invoiced`` → ``rated``, the
  line cleared, nothing else changed — and only while the line's invoice is void.
"""

import django.db.models.deletion
from django.db import migrations, models

# billing_charge_guard as migration 0013 wrote it, with one move added: a voided invoice's charge
# released from its line (the voided invoice's own lines never change: their triggers refuse it).
_GUARD = """
CREATE OR REPLACE FUNCTION billing_charge_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'the charge of event % is in the ledger: it is never deleted', OLD.event_id
      USING ERRCODE = 'P0001';
  END IF;
  IF OLD.invoice_line_id IS NULL THEN
    RAISE EXCEPTION 'the charge of event %: its money changes only when an invoice bills it', OLD.event_id
      USING ERRCODE = 'P0001';
  END IF;{RELEASE}
  -- On a final invoice's line: nothing changes but the state, along the disputes' moves.
  IF (to_jsonb(NEW) - 'state') IS DISTINCT FROM (to_jsonb(OLD) - 'state')
     OR NOT (NEW.state = OLD.state OR (OLD.state, NEW.state) IN (
       ('invoiced', 'disputed'), ('disputed', 'invoiced'), ('invoiced', 'credited'), ('disputed', 'credited'))) THEN
    RAISE EXCEPTION 'the charge of event % is on a final invoice (%): it never changes (a dispute credits it)',
      OLD.event_id, OLD.state USING ERRCODE = 'P0001';
  END IF;
  RETURN NEW;
END $$;
"""
_RELEASE = """
  -- Its invoice was voided: the charge leaves the line as it was billed, to be invoiced again.
  IF NEW.invoice_line_id IS NULL AND OLD.state = 'invoiced' AND NEW.state = 'rated'
     AND (to_jsonb(NEW) - 'state' - 'invoice_line_id') = (to_jsonb(OLD) - 'state' - 'invoice_line_id')
     AND EXISTS (SELECT 1 FROM billing_invoiceline l JOIN billing_invoice i ON i.id = l.invoice_id
                 WHERE l.id = OLD.invoice_line_id AND i.status = 'void') THEN
    RETURN NEW;
  END IF;"""
GUARD_SQL = _GUARD.replace("{RELEASE}", _RELEASE)
GUARD_SQL_BEFORE = _GUARD.replace("{RELEASE}", "")


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0018_charge_month_marks"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="invoice",
            options={"ordering": ["-period", "account_id", "id"]},
        ),
        migrations.RemoveConstraint(
            model_name="creditledgerentry",
            name="credit_entry_sign",
        ),
        migrations.RemoveConstraint(
            model_name="invoice",
            name="invoice_account_period_uniq",
        ),
        migrations.AddField(
            model_name="invoice",
            name="replaces",
            field=models.OneToOneField(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="replaced_by",
                to="billing.invoice",
            ),
        ),
        migrations.AlterField(
            model_name="creditledgerentry",
            name="kind",
            field=models.CharField(
                choices=[
                    ("bundle_grant", "Included in the plan"),
                    ("rollover", "Rolled over"),
                    ("topup", "Top-up"),
                    ("usage", "Used by outcomes"),
                    ("expiry", "Expired"),
                    ("dispute_credit", "Dispute credit"),
                    ("adjustment", "Adjustment"),
                    ("reversal", "Reversed: its invoice was voided"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="creditledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("credits__gt", 0), ("kind__in", ["bundle_grant", "topup", "dispute_credit"])),
                    models.Q(("credits__lte", 0), ("kind__in", ["usage", "expiry"])),
                    models.Q(("credits", 0), ("kind", "rollover")),
                    ("kind__in", ["adjustment", "reversal"]),
                    _connector="OR",
                ),
                name="credit_entry_sign",
            ),
        ),
        migrations.AddConstraint(
            model_name="invoice",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status", "void"), _negated=True),
                fields=("account", "period"),
                name="invoice_account_period_uniq",
            ),
        ),
        migrations.RunSQL(GUARD_SQL, GUARD_SQL_BEFORE),
    ]
