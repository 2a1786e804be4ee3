"""Lifecycle moves bump the reference-data stamp (accounts/refcache.py): ingestion keeps each
account's moves between batches to know whether an outcome's account was active when it occurred."""

from django.db import migrations

TABLE = "accounts_accountlifecyclechange"


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_account_lifecycle")]

    operations = [
        migrations.RunSQL(
            f"CREATE TRIGGER {TABLE}_refdata AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION refdata_changed();",
            f"DROP TRIGGER {TABLE}_refdata ON {TABLE};",
        )
    ]
