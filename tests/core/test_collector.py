"""The web process's collector runs between requests (outcomeportal.collector)."""

import gc
import weakref

import pytest

from outcomeportal import collector
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


def _app(seen: list, *, streaming: bool = False, leave_cycle: list | None = None, make_cycles: int = 0):
    class Response(list):
        pass

    def application(environ, start_response):
        seen.append(gc.get_threshold()[0])
        if leave_cycle is not None:
            leave_cycle.append(_cycle())
        made = [_cycle() for _ in range(make_cycles)]
        if made:
            leave_cycle.append(made[0])
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


def test_a_request_is_served_with_the_collector_held_back_and_its_cycles_go_when_the_next_starts():
    gc.enable()
    gc.set_threshold(1, 10, 10)
    seen, cycles = [], []
    app = CollectBetweenRequests(_app(seen, leave_cycle=cycles))
    app({}, None)
    assert seen == [collector.REQUEST_THRESHOLD]
    assert cycles[0]() is not None  # nothing collected while it was served, nor after
    app({}, None)
    assert cycles[0]() is None  # collected when the next request started
    assert seen == [collector.REQUEST_THRESHOLD] * 2 and gc.isenabled()


def test_a_request_that_keeps_making_cycles_is_collected_while_it_is_served(monkeypatch):
    gc.enable()
    gc.set_threshold(1, 10, 10)
    monkeypatch.setattr(collector, "REQUEST_THRESHOLD", 50)
    cycles = []
    CollectBetweenRequests(_app([], leave_cycle=cycles, make_cycles=500))({}, None)
    assert cycles[0]() is None and cycles[1]() is None


def test_a_streamed_response_is_sent_on_the_usual_schedule_and_the_next_request_holds_it_back_again():
    gc.set_threshold(700, 10, 10)
    seen = []
    CollectBetweenRequests(_app(seen, streaming=True))({}, None)
    assert gc.get_threshold() == (700, 10, 10)
    CollectBetweenRequests(_app(seen))({}, None)
    assert seen == [collector.REQUEST_THRESHOLD] * 2
    assert gc.get_threshold() == (collector.REQUEST_THRESHOLD, 10, 10)
