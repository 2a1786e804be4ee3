#!/usr/bin/env python3
"""``make demo``'s migration step: apply the missing migrations and say so in one line.

``manage.py migrate`` prints a line per migration (dozens on a fresh database) before the demo's
sign-in banner; this runs it at verbosity 0 and prints one line instead — "Database up to date."
or "Applied 57 migrations; the database is up to date." A failure is not hidden: its traceback goes
to stderr and the exit status is not 0, so ``make`` stops.

    python scripts/migrate_quietly.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def migrate_quietly(*, write: Callable[[str], object] = print) -> int:
    """Apply the missing migrations of the default database; returns how many were applied."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", interactive=False, verbosity=0)
    applied = len(plan)
    if applied:
        noun = "migration" if applied == 1 else "migrations"
        write(f"Applied {applied} {noun}; the database is up to date.")
    else:
        write("Database up to date.")
    return applied


def main() -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outcomeportal.settings")
    import django

    django.setup()
    migrate_quietly()
    return 0


if __name__ == "__main__":
    sys.exit(main())
