"""Opaque keyset cursors: the (occurred_at, id) of the last row of a page."""

from __future__ import annotations

from datetime import datetime

from outcomeportal.api.errors import ApiError
from outcomeportal.core.cursors import keyset_decode, keyset_encode


def cursor_encode(occurred_at: datetime, pk: int) -> str:
    return keyset_encode(occurred_at, pk)


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """The position of a cursor this API returned; 400 ``invalid_cursor`` for anything else."""
    position = keyset_decode(cursor)
    if position is None:
        raise ApiError(
            "invalid_cursor", "The cursor is not one this API returned.", 400, {"cursor": ["Invalid cursor."]}
        )
    return position


def page_limit(query) -> int | None:
    """The ``limit`` of a list request (default 100); None unless it is an integer from 1 to 500, written
    in plain ASCII digits (int() alone would also read " 5", "+5" and "5_0")."""
    raw = query.get("limit", "100")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 3:
        return None
    limit = int(raw)
    return limit if 1 <= limit <= 500 else None


def page_request(query) -> tuple[int, tuple[datetime, int] | None]:
    """:func:`page_limit` and the decoded ``cursor`` of a keyset-paginated list request."""
    limit = page_limit(query)
    if limit is None:
        raise ApiError("validation_error", "The query has invalid parameters.", 400, {"limit": ["1 to 500."]})
    return limit, cursor_decode(query["cursor"]) if "cursor" in query else None
