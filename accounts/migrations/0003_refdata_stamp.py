"""The reference-data stamp (accounts/refcache.py): bumped in the same transaction as any change."""

from django.db import migrations

STAMP_SQL = """
CREATE SEQUENCE refdata_stamp_seq;
CREATE TABLE refdata_stamp (id smallint PRIMARY KEY CHECK (id = 1), n bigint NOT NULL);
INSERT INTO refdata_stamp (id, n) VALUES (1, nextval('refdata_stamp_seq'));
CREATE FUNCTION refdata_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    INSERT INTO refdata_stamp (id, n) VALUES (1, nextval('refdata_stamp_seq'))
    ON CONFLICT (id) DO UPDATE SET n = EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER accounts_account_refdata AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts_account
    FOR EACH STATEMENT EXECUTE FUNCTION refdata_changed();
"""
DROP_STAMP_SQL = """
DROP TRIGGER accounts_account_refdata ON accounts_account;
DROP FUNCTION refdata_changed();
DROP TABLE refdata_stamp;
DROP SEQUENCE refdata_stamp_seq;
"""


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_notifications_webhooks")]

    operations = [migrations.RunSQL(STAMP_SQL, DROP_STAMP_SQL)]
