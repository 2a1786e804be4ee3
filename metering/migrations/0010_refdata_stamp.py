"""Outcome types and success criteria bump the reference-data stamp (accounts/refcache.py)."""

from django.db import migrations

TABLES = ("metering_outcometype", "metering_successcriteria")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_refdata_stamp"), ("metering", "0009_session_claim_key")]

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
