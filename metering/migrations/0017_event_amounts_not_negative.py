"""Events' value_amount and cost_amount are never negative.

The constraints are added NOT VALID: every event stored from now on is checked, and an event
stored before (when a negative amount was still accepted) is kept exactly as it was posted —
events are facts, and their payload hash must still match a re-post. PostgreSQL still refuses
any update that would leave such a row negative.
"""

from django.db import migrations, models
from django.db.models import Q

CONSTRAINTS = [
    ("event_value_amount_not_negative", "value_amount"),
    ("event_cost_amount_not_negative", "cost_amount"),
]


class Migration(migrations.Migration):
    dependencies = [("metering", "0016_rollup_delivery_cost")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    sql=f'ALTER TABLE metering_event ADD CONSTRAINT "{name}" CHECK ("{column}" >= 0) NOT VALID',
                    reverse_sql=f'ALTER TABLE metering_event DROP CONSTRAINT "{name}"',
                )
                for name, column in CONSTRAINTS
            ],
            state_operations=[
                migrations.AddConstraint(
                    model_name="event",
                    constraint=models.CheckConstraint(name=name, condition=Q(**{f"{column}__gte": 0})),
                )
                for name, column in CONSTRAINTS
            ],
        )
    ]
