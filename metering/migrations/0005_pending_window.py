"""Settlement's work list (PendingWindow) instead of a partial index on ``metering_event``.

The partial index ``event_pending_window_idx`` named ``status`` in its predicate, so every
settlement (pending → billable) was a non-HOT update: a new row version elsewhere plus an entry
in every index. The queue is filled by a trigger in the inserting statement itself (every writer
queues its pending events; the row commits with its event), emptied by ``outcomes_settle``,
and emptied with ``metering_event`` by a TRUNCATE (event ids restart: no stale row may outlive it).

The triggers exist before the backfill, in one transaction: an event inserted concurrently is
either queued by the trigger or seen by the backfill (CREATE TRIGGER blocks inserts until commit).
"""

import django.db.models.deletion
from django.db import migrations, models

TRIGGERS_SQL = """
CREATE FUNCTION metering_pending_window_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO metering_pendingwindow (window_ends_at, event_id)
    SELECT window_ends_at, id FROM new_rows WHERE status = 'pending';
    RETURN NULL;
END $$;
CREATE TRIGGER metering_event_pending_window AFTER INSERT ON metering_event
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metering_pending_window_insert();

-- Unless the same TRUNCATE emptied it already (it may not truncate a table it is using).
CREATE FUNCTION metering_pending_window_truncate() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    IF EXISTS (SELECT FROM metering_pendingwindow) THEN
        TRUNCATE metering_pendingwindow;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER metering_event_pending_window_truncate AFTER TRUNCATE ON metering_event
    FOR EACH STATEMENT EXECUTE FUNCTION metering_pending_window_truncate();

INSERT INTO metering_pendingwindow (window_ends_at, event_id)
SELECT window_ends_at, id FROM metering_event WHERE status = 'pending';
"""
DROP_SQL = """
DROP TRIGGER IF EXISTS metering_event_pending_window ON metering_event;
DROP TRIGGER IF EXISTS metering_event_pending_window_truncate ON metering_event;
DROP FUNCTION IF EXISTS metering_pending_window_insert();
DROP FUNCTION IF EXISTS metering_pending_window_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("metering", "0004_event_catalogue_refs_unconstrained")]

    operations = [
        migrations.CreateModel(
            name="PendingWindow",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "window_ends_at", "event", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("window_ends_at", models.DateTimeField()),
                (
                    "event",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="metering.event",
                    ),
                ),
            ],
        ),
        migrations.RunSQL(TRIGGERS_SQL, DROP_SQL),
        migrations.RemoveIndex(model_name="event", name="event_pending_window_idx"),
    ]
