"""Charges of outcomes a confirmation settled before this fix stayed ``estimated`` while their
event was ``billable``: the invoice (which bills ``rated`` charges) would never have billed them.
Rate them, as billing.ingestion.signal_record now does in the signal's transaction."""

from django.db import migrations

FIX = """
UPDATE billing_charge c SET state = 'rated'
FROM metering_event e
WHERE e.id = c.event_id AND e.status = 'billable' AND c.state = 'estimated'
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0011_payments"), ("metering", "0016_rollup_delivery_cost")]

    operations = [migrations.RunSQL(FIX, migrations.RunSQL.noop)]
