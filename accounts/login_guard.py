"""Slow down password (and one-time code) guessing, without letting one guesser lock out everyone.

Two counters per window of ``LOGIN_FAILURE_WINDOW_SECONDS`` (a quarter of an hour):

* per (username, client address), up to ``LOGIN_FAILURES_PER_USER_ADDRESS`` (10): one guesser
  at one address gets that many tries at a name, and the name's owner at another address is
  not affected;
* per username, up to ``LOGIN_FAILURES_PER_USER`` (50): guessers spread over many addresses.

There is no counter per address alone: behind a NAT, or a proxy whose hops are not configured
(``TRUSTED_PROXIES``, see accounts.client_address), many people share one address, and one of
them mistyping must not lock out the rest.

Each attempt takes its slot in both counters *before* the password is checked, with one
statement per counter that counts only while there is room (accounts.ratelimit.hit: an
``INSERT … ON CONFLICT DO UPDATE … WHERE hits < limit RETURNING``), so attempts in parallel on
any number of connections never get more checks than the limit. A successful attempt gives its
slots back, so the counters count failures. The second factor's codes take slots the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts import ratelimit


@dataclass(frozen=True)
class Attempt:
    """The slots one attempt took: handed back by :func:`login_attempt_succeeded`."""

    keys: tuple[str, ...]
    window: int
    at: float


def _counters(username: str, address: str) -> list[tuple[str, int]]:
    name = username.strip().lower()[:150]
    return [
        (f"login-fail:user-addr:{name}|{address[:64]}", settings.LOGIN_FAILURES_PER_USER_ADDRESS),
        (f"login-fail:user:{name}", settings.LOGIN_FAILURES_PER_USER),
    ]


def login_attempt_start(*, username: str, address: str) -> Attempt | None:
    """A slot for one attempt at ``username`` from ``address``; ``None`` when a limit is reached
    (then nothing may be checked)."""
    window, at = settings.LOGIN_FAILURE_WINDOW_SECONDS, ratelimit.now()
    taken: list[str] = []
    for key, limit in _counters(username, address):
        if not ratelimit.hit(key, limit=limit, window=window, now=at).allowed:
            for held in taken:
                ratelimit.refund(held, window=window, now=at)
            return None
        taken.append(key)
    return Attempt(keys=tuple(taken), window=window, at=at)


def login_attempt_succeeded(attempt: Attempt) -> None:
    """The attempt was right: it is not a failure, so its slots are given back."""
    for key in attempt.keys:
        ratelimit.refund(key, window=attempt.window, now=attempt.at)


def login_failures_forget(*, username: str, address: str) -> None:
    """Forget the failures counted for ``username`` (everywhere, and from ``address``): its password
    was just replaced through a reset link, so the guesses at the old one no longer matter."""
    for key, _limit in _counters(username, address):
        ratelimit.reset(key)


def login_failures(*, username: str, address: str | None = None) -> int:
    """Failures counted now for ``username`` (from ``address`` when given)."""
    key = _counters(username, address)[0][0] if address is not None else _counters(username, "")[1][0]
    return ratelimit.count(key, window=settings.LOGIN_FAILURE_WINDOW_SECONDS)
