"""The embedded PostgreSQL used when no ``DATABASE_URL`` is set.

The ``pgserver`` wheel ships PostgreSQL binaries. The first process that needs the
database starts a server in the project's data folder (``.data/pg``) on a unix socket;
every later process — web, worker, management commands, tests — finds it running and
joins it. The server is left running on exit (``cleanup_mode=None``) so processes can
come and go; ``make db-stop`` stops it.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from pathlib import Path

DATABASE_NAME = "outcomeportal"


# The server's settings for a write-heavy app on one machine (initdb's defaults are sized for a
# small shared host). Checkpoints far apart: fewer full-page images in the WAL after each one,
# which otherwise dominate the WAL of a sustained ingestion. Durability is untouched (fsync and
# synchronous_commit stay on). They are written once, into a new data folder, and the server is
# restarted then, since shared_buffers only takes effect when the server starts.
SERVER_SETTINGS = {
    "shared_buffers": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}


def embedded_server(data_dir: Path):
    """Start (or join) the embedded server in ``data_dir / "pg"``, with :data:`SERVER_SETTINGS`."""
    # pgserver asks platformdirs for a runtime dir; give it one quietly on servers
    # without a login session.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir / "run"))
    (data_dir / "run").mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(data_dir / "pg", cleanup_mode=None)
    if not _settings_applied(server):  # a new data folder: once
        _settings_apply(server, lock_path=data_dir / "pg-settings.lock")
    return server


def _settings_applied(server) -> bool:
    """Whether ALTER SYSTEM has written the settings (a file read: every process start asks)."""
    auto_conf = server.pgdata / "postgresql.auto.conf"
    return auto_conf.exists() and "max_wal_size" in auto_conf.read_text()


def _settings_apply(server, *, lock_path: Path) -> None:
    """Write :data:`SERVER_SETTINGS` and restart the server so that all of them are in force.

    Only for a data folder that has never had them, i.e. right after ``initdb``, before the app
    has used the server. A file lock makes two processes starting at once do it once.
    """
    import pgserver

    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _settings_applied(server):  # another process did it while this one waited
            return
        for name, value in SERVER_SETTINGS.items():
            server.psql(f"ALTER SYSTEM SET {name} = '{value}';")
        pgserver.pg_ctl(
            ["-w", "-l", str(server.log), "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60
        )
        server.ensure_postgres_running()  # the new postmaster's pid and socket


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded server and return a URL for the app database."""
    server = embedded_server(data_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return server.get_uri(DATABASE_NAME)


def embedded_server_stop(data_dir: Path) -> None:
    os.environ.setdefault("XDG_RUNTIME_DIR", str(data_dir / "run"))
    import pgserver

    pgserver.get_server(data_dir / "pg", cleanup_mode="stop").cleanup()
