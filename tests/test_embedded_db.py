"""The embedded PostgreSQL: a new data folder starts with every server setting in force."""

from __future__ import annotations

import pytest

from outcomeportal.embedded_db import SERVER_SETTINGS, embedded_server


@pytest.fixture
def data_dir(tmp_path):
    """A data folder of its own: a second server, beside the one the tests run on, stopped afterwards."""
    yield tmp_path
    import pgserver  # imported by embedded_server, which set up its runtime folder first

    server = pgserver.get_server(tmp_path / "pg", cleanup_mode=None)  # this process's handle
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)


def _setting(server, name: str) -> str:
    return server.psql(f"SHOW {name};").splitlines()[2].strip()  # header, rule, value


def test_a_new_data_folder_starts_with_the_settings_in_force(data_dir):
    server = embedded_server(data_dir)

    # shared_buffers only changes when the server starts: in force means it was restarted.
    assert {name: _setting(server, name) for name in SERVER_SETTINGS} == SERVER_SETTINGS
    assert _setting(server, "fsync") == "on"
    assert _setting(server, "synchronous_commit") == "on"


def test_joining_a_running_server_does_not_restart_it(data_dir):
    first = embedded_server(data_dir)
    started = first.psql("SELECT pg_postmaster_start_time();")

    again = embedded_server(data_dir)

    assert again.psql("SELECT pg_postmaster_start_time();") == started
