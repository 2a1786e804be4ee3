"""Indexes for the audit table's filters (see metering.audit and bench/portal.py).

Built CONCURRENTLY: metering_event is the ingestion hot path, and a plain CREATE INDEX
would block inserts for as long as the build takes on a large table.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.models import Q


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("metering", "0003_session_claim_renewal")]

    operations = [
        AddIndexConcurrently(
            model_name="event",
            index=models.Index(
                fields=["account", "non_billable_reason", "-occurred_at", "-id"],
                name="event_account_reason_idx",
                condition=~Q(non_billable_reason=""),
            ),
        ),
        AddIndexConcurrently(
            model_name="event",
            index=models.Index(
                fields=["account", "session_id"], name="event_account_session_idx", condition=~Q(session_id="")
            ),
        ),
    ]
