"""Slow down password guessing: after too many failed sign-ins for a username (or from one
address) in a quarter of an hour, the login form refuses to check passwords until it ends.

Counted in the database (accounts.ratelimit), so every web worker sees the same count.
"""

from __future__ import annotations

from accounts import ratelimit

MAX_FAILURES = 10
WINDOW_SECONDS = 15 * 60


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"login-fail:user:{username.strip().lower()}", f"login-fail:addr:{address}"


def login_blocked(*, username: str, address: str) -> bool:
    return any(ratelimit.count(key, window=WINDOW_SECONDS) >= MAX_FAILURES for key in _keys(username, address))


def login_failed(*, username: str, address: str) -> None:
    for key in _keys(username, address):
        ratelimit.add(key, window=WINDOW_SECONDS)


def login_succeeded(*, username: str, address: str) -> None:
    ratelimit.reset(_keys(username, address)[0])
