"""Leave room on every ``metering_event`` page for one more version of each row.

An event row is rewritten once or twice in its life (settled: pending → billable; invoiced).
No index mentions the columns those updates change (migration 0005), so when the new
version fits on the same page the update is HOT: no index entry, no new page, and the old
version is pruned by the next visitor of the page. Rows are ~950 bytes and a page 8 kB: at
fillfactor 50 a page takes 4 rows instead of 8 and keeps room for 4 new versions — every row
of a page can be settled in one statement. The price is storage: the table's heap doubles
(its indexes do not grow; non-HOT updates used to double the heap too until VACUUM).
Only pages written from now on are affected; existing rows stay packed.
"""

from django.db import migrations

FILLFACTOR = 50


class Migration(migrations.Migration):
    dependencies = [("metering", "0005_pending_window")]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE metering_event SET (fillfactor = {FILLFACTOR})",
            "ALTER TABLE metering_event RESET (fillfactor)",
        ),
    ]
