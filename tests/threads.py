"""Running a piece of a test on its own database connection, in a thread (concurrency tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """Start ``target`` in a thread; returns the thread and the list its exception lands in.

    The thread has its own connection (Django's are per thread), closed when it is done; the
    test joins the thread and re-raises what the list holds.
    """
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:  # re-raised by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors
