"""The cyclic garbage collector in a web process: it runs between requests, not during them.

A request allocates many short-lived containers (an ingestion batch: tens of thousands — the decoded
events, their parsed rows, charges and results). With the collector on, each few hundred of those
allocations sets off a collection that walks every young container still alive — the whole batch,
again and again — and promotes it to an older generation, whose collections walk it once more. And
a request's own objects (Django's request and DRF's, the view, what they hold) refer to each other:
only a collection frees them. Under gunicorn that came to 2.5 ms of collections per 1,000-event
request (bench/README.md, session 16).

:class:`CollectBetweenRequests` holds the collector back while a request is served and, when the
next one starts, runs the collection that the collector's own schedule has made due (its counts go
on rising with allocations meanwhile): what it walks then is what outlived the last request — its
cycle of request objects, whatever else it left — and nothing of the one being served. Held back,
not off: a request that goes on making cycles (hundreds of thousands of containers more than it
frees) still sets off a collection, so its garbage cannot grow without bound. A streamed response
produces its body after the application returns, for as long as the download lasts: the collector
runs on its usual schedule while it does.
"""

from __future__ import annotations

import gc


def collect_due(thresholds: tuple[int, int, int] | None = None) -> int | None:
    """Collect the oldest generation whose count has passed its threshold (the collector's own, or
    ``thresholds``), as the collector would on its next allocation; returns that generation, or
    None when none is due (or collection is turned off by a zero threshold)."""
    counts, thresholds = gc.get_count(), thresholds or gc.get_threshold()
    if not thresholds[0]:
        return None
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return generation
    return None


# While a request is served, the youngest generation is collected only past this many more container
# allocations than frees (a batch of 1,000 events comes to a few thousand).
REQUEST_THRESHOLD = 200_000


class CollectBetweenRequests:
    """WSGI middleware: the collector is held back while a request is served; what is due runs first."""

    def __init__(self, application):
        self.application = application
        self.thresholds = gc.get_threshold()  # the collector's schedule between requests

    def __call__(self, environ, start_response):
        gc.set_threshold(REQUEST_THRESHOLD, *self.thresholds[1:])  # first: nothing collects on its own now
        collect_due(self.thresholds)
        response = self.application(environ, start_response)
        if getattr(response, "streaming", False):
            gc.set_threshold(*self.thresholds)  # its body is made while it is sent
        return response
