"""Backups (outcomeportal/backup.py, ``make backup`` / ``make restore``): a backup of a seeded
database restored into a fresh one holds every account, event, invoice and line, value for value."""

from __future__ import annotations

import os
from decimal import Decimal

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from billing.services import credit_note_issue
from outcomeportal.backup import BackupError, backup_create, backup_restore, conninfo, libpq_env, pg_bin_dir
from tests import factories
from tests.billing.helpers import contract, post, settle_and_finalize

# Key columns of the rows a backup must bring back exactly, in a fixed order.
CHECKED = {
    "accounts_account": "id, external_id, currency, timezone",
    "metering_event": "id, account_id, event_id, occurred_at, status, non_billable_reason",
    "billing_charge": "event_id, account_id, state, reason, amount, invoice_line_id",
    "billing_invoice": "id, account_id, number, period, status, subtotal, credits_applied, total",
    "billing_invoiceline": "id, invoice_id, position, description, quantity, unit_price, amount",
    "billing_creditnote": "id, account_id, number, amount, invoice_id",
}


def _seed():
    factories.make_outcome_type(one_per_session=False)
    acme = factories.make_account("acme", currency="EUR")
    globex = factories.make_account("globex", timezone_name="Asia/Tokyo")
    for account, n in ((acme, 40), (globex, 7)):
        contract(account, prices=[{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}])
        post(account, n)
        post(account, 3, prefix="abandoned", failure_reason="abandoned")
    invoice = settle_and_finalize(acme)
    settle_and_finalize(globex)
    credit_note_issue(account=acme, amount=Decimal("1.98"), reason="two events disputed", invoice_id=invoice.pk)


def _fingerprint(params: dict) -> dict:
    """Row counts of every table, and an md5 of the key columns of the tables above."""
    with psycopg.connect(**params) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        counts = {
            table: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
            for table in tables
        }
        sums = {}
        for table, columns in CHECKED.items():
            key = columns.split(",")[0]  # each table's key comes first
            query = sql.SQL("SELECT md5(coalesce(string_agg(row({})::text, '|' ORDER BY {}), '')) FROM {}").format(
                sql.SQL(columns), sql.SQL(key), sql.Identifier(table)
            )
            sums[table] = conn.execute(query).fetchone()[0]
    return {"counts": counts, "sums": sums}


def _programs(kind: str = "setup"):
    """ "setup": what scripts/backup.py picks for this test run's server (the embedded server's, or
    with DATABASE_URL the PATH's); "wheel": the programs the pgserver wheel ships."""
    return pg_bin_dir(embedded=kind == "wheel" or not os.environ.get("DATABASE_URL"))


@pytest.fixture
def fresh_database():
    """An empty database beside the test database, dropped afterwards."""
    source = dict(connection.settings_dict)
    name = f"{source['NAME']}_restore"
    admin = {**conninfo(source), "dbname": "postgres"}
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield {**source, "NAME": name}
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.django_db(transaction=True)  # pg_dump reads from its own connection: the rows must be committed
@pytest.mark.parametrize("programs", ["setup", "wheel"])
def test_a_backup_restored_into_a_fresh_database_holds_everything(fresh_database, tmp_path, programs):
    _seed()
    source = dict(connection.settings_dict)
    bin_dir = _programs(programs)
    before = _fingerprint(conninfo(source))
    assert before["counts"]["metering_event"] == 53 and before["counts"]["billing_invoice"] == 2
    assert before["counts"]["billing_creditnote"] == 1

    archive = backup_create(database=source, output=tmp_path / "backups" / "op.dump", bin_dir=bin_dir)
    assert archive.read_bytes()[:5] == b"PGDMP"  # the custom format
    assert not (tmp_path / "backups" / "op.dump.partial").exists()
    backup_restore(database=fresh_database, archive=archive, bin_dir=bin_dir)

    after = _fingerprint(conninfo(fresh_database))
    assert after["sums"] == before["sums"]
    assert after["counts"] == {**before["counts"], "accounts_ratecounter": 0}  # unlogged: not kept


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_database_in_use_unless_clean(fresh_database, tmp_path):
    _seed()
    source = dict(connection.settings_dict)
    archive = backup_create(database=source, output=tmp_path / "op.dump", bin_dir=_programs())
    backup_restore(database=fresh_database, archive=archive, bin_dir=_programs())
    with psycopg.connect(**conninfo(fresh_database), autocommit=True) as conn:
        conn.execute("UPDATE accounts_account SET currency = 'JPY'")  # what happened after the backup
    with pytest.raises(BackupError, match="already holds"):
        backup_restore(database=fresh_database, archive=archive, bin_dir=_programs())

    assert _fingerprint(conninfo(fresh_database))["sums"] != _fingerprint(conninfo(source))["sums"]
    backup_restore(database=fresh_database, archive=archive, bin_dir=_programs(), clean=True)

    assert _fingerprint(conninfo(fresh_database))["sums"] == _fingerprint(conninfo(source))["sums"]


def test_a_missing_file_or_a_failing_program_says_so(tmp_path, db):
    source = dict(connection.settings_dict)
    with pytest.raises(BackupError, match="No backup file"):
        backup_restore(database=source, archive=tmp_path / "nope.dump")
    with pytest.raises(BackupError, match="pg_dump was not found"):
        backup_create(database=source, output=tmp_path / "x.dump", bin_dir=tmp_path)
    with pytest.raises(BackupError, match="pg_dump failed"):
        backup_create(
            database={**source, "NAME": "no_such_database_here"}, output=tmp_path / "x.dump", bin_dir=_programs()
        )
    assert list(tmp_path.iterdir()) == []  # no half-written backup under the final name


def test_connection_settings_reach_the_programs_as_libpq_variables():
    database = {"NAME": "op", "USER": "u", "PASSWORD": "secret", "HOST": "db", "PORT": 5433, "OPTIONS": {}}
    assert libpq_env(database) == {
        "PGHOST": "db",
        "PGPORT": "5433",
        "PGUSER": "u",
        "PGPASSWORD": "secret",
        "PGDATABASE": "op",
    }
    # The embedded server: a unix socket folder in OPTIONS, which wins over HOST as in Django.
    embedded = {"NAME": "outcomeportal", "USER": "postgres", "HOST": "", "OPTIONS": {"host": "/data/pg"}}
    assert libpq_env(embedded) == {"PGHOST": "/data/pg", "PGUSER": "postgres", "PGDATABASE": "outcomeportal"}


def test_the_embedded_server_uses_the_programs_its_wheel_ships(monkeypatch, tmp_path):
    from pgserver._commands import POSTGRES_BIN_PATH

    assert pg_bin_dir(embedded=True) == POSTGRES_BIN_PATH
    assert (POSTGRES_BIN_PATH / "pg_dump").exists() and (POSTGRES_BIN_PATH / "pg_restore").exists()
    assert pg_bin_dir(embedded=True, configured=str(tmp_path)) == tmp_path  # PG_BIN_DIR wins
    monkeypatch.setattr("shutil.which", lambda name: None)
    assert pg_bin_dir(embedded=False) == POSTGRES_BIN_PATH  # no pg_dump on the PATH
