"""Backups of the database: ``pg_dump`` and ``pg_restore`` in PostgreSQL's custom format.

``make backup`` and ``make restore`` (``scripts/backup.py``) call these two functions with the
database of the settings: the server of ``DATABASE_URL``, or the embedded one in ``.data/pg``.

* A backup is one file in the custom format (compressed; ``pg_restore --list`` shows what it
  holds): the schema, every row, the triggers and functions of the migrations, the
  ``django_migrations`` table — everything but owners and grants, which belong to the server it
  is restored on, and the rows of unlogged tables (the API's rate counters, which a crash empties
  anyway). It is written to a temporary name and renamed when complete, so a file with the final
  name is always a whole backup.
* A restore goes into an empty database (``createdb``, or a new embedded data folder), in one
  transaction: it is all there, or nothing is. With ``clean`` it first drops what the backup
  holds from a database in use — the way back to the moment of the backup.

The programs: ``PG_BIN_DIR`` when set; for the embedded server, the binaries its ``pgserver``
wheel ships (they match the server); otherwise ``pg_dump`` on the ``PATH``, or the wheel's when
there is none. ``pg_dump`` must be as new as the server it reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import psycopg


class BackupError(Exception):
    pass


def pg_bin_dir(*, embedded: bool, configured: str = "") -> Path | None:
    """The folder of ``pg_dump`` and ``pg_restore``; ``None`` for the ``PATH``."""
    if configured:
        return Path(configured)
    if embedded or shutil.which("pg_dump") is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' notes about a runtime folder, as in embedded_db
            from pgserver._commands import POSTGRES_BIN_PATH  # the wheel's own programs

        return Path(POSTGRES_BIN_PATH)
    return None


# libpq's connection keywords and the environment variables pg_dump and pg_restore read them from.
_LIBPQ_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
    "options": "PGOPTIONS",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}


def conninfo(database: dict) -> dict[str, str]:
    """Django's ``DATABASES`` entry as libpq keywords; ``OPTIONS`` win, as in Django's backend (the
    embedded server's socket folder is ``OPTIONS["host"]``)."""
    params = {
        "host": database.get("HOST"),
        "port": database.get("PORT"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
        "dbname": database["NAME"],
        **{key: value for key, value in (database.get("OPTIONS") or {}).items() if key in _LIBPQ_ENV},
    }
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def libpq_env(database: dict) -> dict[str, str]:
    """The same as libpq's variables, for the programs: no password on a command line."""
    return {_LIBPQ_ENV[key]: value for key, value in conninfo(database).items()}


def backup_create(*, database: dict, output: Path, bin_dir: Path | None = None) -> Path:
    """Write a custom-format backup of ``database`` to ``output``; returns its path."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        _run(
            _program("pg_dump", bin_dir),
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--no-unlogged-table-data",
            f"--file={partial}",
            database=database,
        )
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)
    return output


def backup_restore(*, database: dict, archive: Path, bin_dir: Path | None = None, clean: bool = False) -> None:
    """Restore ``archive`` into ``database``, in one transaction.

    Refuses a database that already holds tables unless ``clean``: then the objects the backup
    holds are dropped first and come back as they were.
    """
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"No backup file at {archive}.")
    if not clean and (tables := _table_count(database)):
        raise BackupError(
            f"Database {database['NAME']!r} already holds {tables} tables. Restore into an empty database "
            "(createdb), or pass --clean to replace its contents with the backup's."
        )
    options = ["--clean", "--if-exists"] if clean else []
    _run(
        _program("pg_restore", bin_dir),
        *options,
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        "--single-transaction",
        f"--dbname={conninfo(database)['dbname']}",
        str(archive),
        database=database,
    )


def _program(name: str, bin_dir: Path | None) -> str:
    return str(bin_dir / name) if bin_dir else name


def _run(*command: str, database: dict) -> None:
    env = {**os.environ, **libpq_env(database)}
    try:
        subprocess.run(command, env=env, check=True, capture_output=True, text=True)  # noqa: S603 — our own arguments
    except FileNotFoundError as exc:
        message = f"{command[0]} was not found; set PG_BIN_DIR to the folder of PostgreSQL's programs."
        raise BackupError(message) from exc
    except subprocess.CalledProcessError as exc:
        raise BackupError(f"{Path(command[0]).name} failed:\n{exc.stderr.strip()}") from exc


def _table_count(database: dict) -> int:
    with psycopg.connect(**conninfo(database)) as conn:
        row = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    return row[0]
