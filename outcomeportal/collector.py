"""The cyclic garbage collector in a web process: it runs between requests, not during them.

A request allocates many short-lived containers (an ingestion batch: tens of thousands — the decoded
events, their parsed rows, charges and results). With the collector on, each few hundred of those
allocations sets off a collection that walks every young container still alive — the whole batch,
again and again — and promotes it to an older generation, whose collections walk it once more. And
a request's own objects (Django's request and DRF's, the view, what they hold) refer to each other:
only a collection frees them. Under gunicorn that came to 2.5 ms of collections per 1,000-event
request (bench/README.md, session 16).

:class:`CollectBetweenRequests` keeps the collector off while a request is served and, when the next
one starts, runs the collection that the collector's own schedule has made due (its counts go on
rising with allocations while it is off): what it walks then is what outlived the last request —
its cycle of request objects, whatever else it left — and nothing of the one being served. A streamed
response produces its body after the application returns, for as long as the download lasts: the
collector runs as usual while it does.
"""

from __future__ import annotations

import gc


def collect_due() -> int | None:
    """Collect the oldest generation whose count has passed its threshold, as the collector would
    on its next allocation; returns that generation, or None when none is due (or collection is
    turned off by a zero threshold)."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if not thresholds[0]:
        return None
    for generation in (2, 1, 0):
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return generation
    return None


class CollectBetweenRequests:
    """WSGI middleware: the collector is off while a request is served; what is due runs first."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        gc.disable()
        collect_due()
        response = self.application(environ, start_response)
        if getattr(response, "streaming", False):
            gc.enable()  # its body is made while it is sent; the next request turns the collector off again
        return response
