from __future__ import annotations

import orjson
from rest_framework.renderers import BaseRenderer


class ORJSONRenderer(BaseRenderer):
    """JSON via orjson; decimals must already be strings (amounts are decimal strings by contract)."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=_default)


def _default(value):
    # Decimal, lazy strings, UUIDs…: their string form is the contract's representation.
    return str(value)
