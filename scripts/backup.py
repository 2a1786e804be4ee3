#!/usr/bin/env python3
"""Back up the database, or restore a backup (``make backup``, ``make restore FILE=…``).

    python scripts/backup.py backup                       # .data/backups/outcomeportal-<UTC time>.dump
    python scripts/backup.py backup --output /srv/bk/x.dump
    python scripts/backup.py restore /srv/bk/x.dump       # into an empty database
    python scripts/backup.py restore /srv/bk/x.dump --clean   # replace what the database holds

The database is the settings' own: ``DATABASE_URL``'s server, or, with no ``DATABASE_URL``, the
embedded PostgreSQL in ``$OUTCOMEPORTAL_DATA_DIR/pg`` (started if it is not running) with the
``pg_dump`` and ``pg_restore`` its ``pgserver`` wheel ships. ``PG_BIN_DIR`` names another folder
of PostgreSQL programs. See outcomeportal/backup.py for what a backup holds, and docs/operations.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    backup = commands.add_parser("backup", help="write a backup file (pg_dump, custom format)")
    backup.add_argument("--output", type=Path, help="the file to write (default: .data/backups/…)")
    restore = commands.add_parser("restore", help="restore a backup file (pg_restore)")
    restore.add_argument("file", type=Path)
    restore.add_argument("--clean", action="store_true", help="drop what the backup holds from the database first")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomeportal.settings")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' notes about the embedded server's runtime folder
        import django

        django.setup()  # with no DATABASE_URL, this starts (or joins) the embedded server
    from django.conf import settings

    from outcomeportal.backup import BackupError, backup_create, backup_restore, pg_bin_dir

    database = settings.DATABASES["default"]
    embedded = not os.environ.get("DATABASE_URL")
    bin_dir = pg_bin_dir(embedded=embedded, configured=os.environ.get("PG_BIN_DIR", ""))
    where = "the embedded server" if embedded else f"{database.get('HOST') or 'localhost'}"
    try:
        if args.command == "backup":
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            output = args.output or settings.DATA_DIR / "backups" / f"outcomeportal-{stamp}.dump"
            path = backup_create(database=database, output=output, bin_dir=bin_dir)
            print(f"Backed up database {database['NAME']!r} on {where} to {path} ({path.stat().st_size:,} bytes).")
        else:
            backup_restore(database=database, archive=args.file, bin_dir=bin_dir, clean=args.clean)
            print(f"Restored {args.file} into database {database['NAME']!r} on {where}.")
            print("Next: python manage.py migrate (if this code is newer than the backup), then start the app.")
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
