from __future__ import annotations

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class JSONForBrowsers(DefaultContentNegotiation):
    """A browser asking for HTML gets the JSON answer (the API has no HTML outside DEBUG);
    any other unsatisfiable Accept header is a 406 with the contract's error body."""

    def select_renderer(self, request, renderers, format_suffix=None):
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except NotAcceptable:
            if "text/html" in request.META.get("HTTP_ACCEPT", ""):
                return renderers[0], renderers[0].media_type
            raise
