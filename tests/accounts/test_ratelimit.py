"""Rate limits counted in the database: exact per window, shared by every connection."""

from __future__ import annotations

import threading

import pytest

from accounts import ratelimit
from accounts.models import RateCounter
from tests.threads import in_thread

T = 1_794_999_960  # a multiple of 60: the start of a minute


@pytest.mark.django_db
def test_a_window_admits_its_limit_then_refuses_until_it_ends():
    verdicts = [ratelimit.hit("k", limit=3, window=60, now=T + s) for s in (0, 1, 2, 3, 59)]
    assert verdicts == [(True, 0), (True, 0), (True, 0), (False, 57), (False, 1)]
    assert ratelimit.count("k", window=60, now=T + 30) == 3  # refused hits are not counted
    assert ratelimit.hit("k", limit=3, window=60, now=T + 60) == (True, 0)  # a new window
    assert ratelimit.hit("other", limit=3, window=60, now=T + 3).allowed  # keys are apart


@pytest.mark.django_db
def test_a_limit_of_zero_refuses_everything():
    assert ratelimit.hit("k", limit=0, window=60, now=T + 15) == (False, 45)
    assert RateCounter.objects.count() == 0


@pytest.mark.django_db
def test_add_count_and_reset():
    for _ in range(4):
        ratelimit.add("k", window=900, now=T)
    assert ratelimit.count("k", window=900, now=T + 100) == 4
    assert ratelimit.count("k", window=900, now=T + 900) == 0  # the next window
    ratelimit.reset("k")
    assert ratelimit.count("k", window=900, now=T) == 0


@pytest.mark.django_db
def test_prune_drops_only_windows_long_over():
    ratelimit.add("old", window=60, now=T - ratelimit.KEEP_SECONDS - 60)
    ratelimit.add("recent", window=60, now=T - 120)
    assert ratelimit.prune(now=T) == 1
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["recent"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_connections_never_get_past_the_limit_together():
    start, allowed, lock = threading.Barrier(8), [], threading.Lock()

    def client():
        start.wait(timeout=10)
        for _ in range(10):
            verdict = ratelimit.hit("shared", limit=25, window=60, now=T + 5)
            with lock:
                allowed.append(verdict.allowed)

    threads = [in_thread(client) for _ in range(8)]
    for thread, errors in threads:
        thread.join(timeout=30)
        assert not errors
    assert (allowed.count(True), allowed.count(False)) == (25, 55)
    assert ratelimit.count("shared", window=60, now=T + 5) == 25
