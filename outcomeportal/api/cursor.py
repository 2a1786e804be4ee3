"""Opaque keyset cursors: the (occurred_at, id) of the last row of a page."""

from __future__ import annotations

import base64
from datetime import datetime

from outcomeportal.api.errors import ApiError


def cursor_encode(occurred_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{occurred_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|")
        return datetime.fromisoformat(at), int(pk)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            "invalid_cursor", "The cursor is not one this API returned.", 400, {"cursor": ["Invalid cursor."]}
        ) from exc


def page_limit(query) -> int | None:
    """The ``limit`` of a list request (default 100); None unless it is an integer from 1 to 500."""
    try:
        limit = int(query.get("limit", 100))
    except ValueError:
        return None
    return limit if 1 <= limit <= 500 else None


def page_request(query) -> tuple[int, tuple[datetime, int] | None]:
    """:func:`page_limit` and the decoded ``cursor`` of a keyset-paginated list request."""
    limit = page_limit(query)
    if limit is None:
        raise ApiError("validation_error", "The query has invalid parameters.", 400, {"limit": ["1 to 500."]})
    return limit, cursor_decode(query["cursor"]) if query.get("cursor") else None
