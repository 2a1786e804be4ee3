#!/usr/bin/env python3
"""Stop the embedded PostgreSQL server (``make db-stop``).

pgserver stops its server when the last process holding a handle on it releases it, and
keeps the holders' pids in ``<data>/pg/.handle_pids.json``. A process that was killed (a
Ctrl-C'd runserver, a crashed test run) never releases its handle, so the list fills with
dead pids and the server would never stop. This script forgets the dead ones, refuses if
live processes still use the server (they would lose their database), and then stops it
through ``outcomeportal.embedded_db.embedded_server_stop``.

    python scripts/db_stop.py            # the data folder of the settings (.data by default)
    python scripts/db_stop.py --force    # stop even if live processes still use it
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="stop even if live processes still use the server")
    args = parser.parse_args()

    data_dir = Path(os.environ.get("OUTCOMEPORTAL_DATA_DIR", str(ROOT / ".data")))
    pgdata = data_dir / "pg"
    if not (pgdata / "postmaster.pid").exists():
        print(f"The embedded PostgreSQL in {pgdata} is not running.")
        return 0
    handles = pgdata / ".handle_pids.json"
    pids = json.loads(handles.read_text()) if handles.exists() else []
    live = [pid for pid in pids if _alive(pid)]
    if live and not args.force:
        print(
            f"The embedded PostgreSQL in {pgdata} is still used by process(es) {', '.join(map(str, live))}; "
            "stop them first, or run with --force."
        )
        return 1
    handles.write_text("[]")  # embedded_server_stop's own handle is then the last one

    from outcomeportal.embedded_db import embedded_server_stop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' notes about the runtime folder
        embedded_server_stop(data_dir)
    if (pgdata / "postmaster.pid").exists():
        print(f"The embedded PostgreSQL in {pgdata} did not stop; see {pgdata / 'log'}.")
        return 1
    print(f"Stopped the embedded PostgreSQL in {pgdata}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
