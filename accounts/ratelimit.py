"""Rate limits shared by every process: hit counters in PostgreSQL, one row per key and window.

A limit is ``limit`` hits per fixed window of ``window`` seconds (a calendar minute for
"6000/min"). :func:`hit` counts a hit only while the window has room, in one statement under
the row's lock, so requests served by any number of gunicorn workers, on any number of
machines, never get past the limit together; a refused hit is not counted, and the answer says
how long until the window ends. The counters live in an UNLOGGED table (no WAL; a crash empties
them, which at worst forgives a window) and :func:`prune` drops old windows (a scheduled job).

Used by the API's throttle (``accounts.throttling``) and the sign-in guard
(``accounts.login_guard``), which takes a slot with :func:`hit` before it checks a password and
gives it back with :func:`refund` when the password was right.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

from django.db import connection

KEEP_SECONDS = 3 * 24 * 3600  # windows up to a day long, and the one before
_clock = time.time  # (tests move it)


class Verdict(NamedTuple):
    allowed: bool
    retry_after: int  # seconds until the window ends (0 when allowed)


def now() -> float:
    """The clock the counters run on (Unix seconds)."""
    return _clock()


def _window_start(now: float, window: int) -> int:
    return int(now // window) * window


def hit(key: str, *, limit: int, window: int, now: float | None = None) -> Verdict:
    """Count one hit of ``key`` if its current window holds fewer than ``limit``."""
    now = _clock() if now is None else now
    start = _window_start(now, window)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_ratecounter AS c (key, window_start, hits) SELECT %s, %s, 1 WHERE %s > 0 "
            "ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + 1 WHERE c.hits < %s RETURNING c.hits",
            [key, start, limit, limit],
        )
        if cursor.fetchone() is not None:
            return Verdict(True, 0)
    return Verdict(False, max(1, math.ceil(start + window - now)))


def add(key: str, *, window: int, now: float | None = None) -> None:
    """Count one hit of ``key``, whatever the count (e.g. a failed sign-in)."""
    now = _clock() if now is None else now
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts_ratecounter AS c (key, window_start, hits) VALUES (%s, %s, 1) "
            "ON CONFLICT (key, window_start) DO UPDATE SET hits = c.hits + 1",
            [key, _window_start(now, window)],
        )


def refund(key: str, *, window: int, now: float) -> None:
    """Take back one hit of ``key`` counted at ``now`` (in that hit's window), never below zero."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_ratecounter SET hits = hits - 1 WHERE key = %s AND window_start = %s AND hits > 0",
            [key, _window_start(now, window)],
        )


def count(key: str, *, window: int, now: float | None = None) -> int:
    """Hits of ``key`` in its current window."""
    now = _clock() if now is None else now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT hits FROM accounts_ratecounter WHERE key = %s AND window_start = %s",
            [key, _window_start(now, window)],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def reset(key: str) -> None:
    """Forget every count of ``key``."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_ratecounter WHERE key = %s", [key])


def prune(*, now: float | None = None) -> int:
    """Drop windows that ended long ago; returns how many."""
    now = _clock() if now is None else now
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_ratecounter WHERE window_start < %s", [int(now) - KEEP_SECONDS])
        return cursor.rowcount
