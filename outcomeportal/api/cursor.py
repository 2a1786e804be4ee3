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
