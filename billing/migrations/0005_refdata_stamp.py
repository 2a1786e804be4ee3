"""Contract versions and spend controls bump the reference-data stamp (accounts/refcache.py)."""

from django.db import migrations

TABLES = ("billing_contractversion", "billing_spendcontrol")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_refdata_stamp"), ("billing", "0004_invoice_events_pending")]

    operations = [
        migrations.RunSQL(
            [
                f"CREATE TRIGGER {t}_refdata AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION refdata_changed();"
                for t in TABLES
            ],
            [f"DROP TRIGGER {t}_refdata ON {t};" for t in TABLES],
        )
    ]
