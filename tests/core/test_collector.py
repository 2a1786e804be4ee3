"""The web process's collector runs between requests (outcomeportal.collector)."""

import gc
import weakref

import pytest

from outcomeportal.collector import CollectBetweenRequests, collect_due


@pytest.fixture(autouse=True)
def _collector_restored():
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.collect()
    yield
    gc.set_threshold(*thresholds)
    (gc.enable if enabled else gc.disable)()


class _Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it


def _cycle() -> weakref.ref:
    return weakref.ref(_Node())


def _app(seen: list, *, streaming: bool = False, leave_cycle: list | None = None):
    class Response(list):
        pass

    def application(environ, start_response):
        seen.append(gc.isenabled())
        if leave_cycle is not None:
            leave_cycle.append(_cycle())
        response = Response([b"ok"])
        response.streaming = streaming
        return response

    return application


def test_nothing_is_collected_before_a_generation_is_due():
    gc.disable()
    gc.set_threshold(10_000, 10, 10)
    ref = _cycle()
    assert collect_due() is None
    assert ref() is not None


def test_the_oldest_due_generation_is_collected():
    gc.disable()
    gc.set_threshold(5, 2, 10)
    gc.collect()
    ref = _cycle()
    keep = [[] for _ in range(20)]  # past the young generation's threshold
    assert collect_due() == 0
    assert ref() is None
    collected = []
    for _ in range(3):
        keep += [[] for _ in range(20)]
        collected.append(collect_due())
    # Past its threshold of 2 young collections, the middle generation is the one collected.
    assert collected == [0, 0, 1]
    assert gc.get_count()[1] == 0 and len(keep) == 80


def test_a_zero_threshold_turns_collection_off():
    gc.set_threshold(0, 10, 10)
    keep = [[] for _ in range(100)]
    assert keep and collect_due() is None


def test_a_request_is_served_with_the_collector_off_and_its_cycles_go_at_a_later_request():
    gc.enable()
    gc.set_threshold(1, 10, 10)
    seen, cycles = [], []
    app = CollectBetweenRequests(_app(seen, leave_cycle=cycles))
    app({}, None)
    assert seen == [False] and not gc.isenabled()
    assert cycles[0]() is not None  # nothing collected while it was served, nor after
    app({}, None)
    assert cycles[0]() is None  # collected when the next request started
    assert seen == [False, False]


def test_a_streamed_response_is_sent_with_the_collector_on_and_the_next_request_turns_it_off():
    seen = []
    CollectBetweenRequests(_app(seen, streaming=True))({}, None)
    assert gc.isenabled()
    CollectBetweenRequests(_app(seen))({}, None)
    assert seen == [False, False] and not gc.isenabled()
