"""Keyset cursors: the position (a timestamp and a row id) after which the next page starts.

Opaque in URLs and API responses (URL-safe base64 of ``"<RFC 3339>|<id>"``), and validated
completely when read back: an aware timestamp and an id a ``bigint`` holds, written exactly as
:func:`keyset_encode` writes them. Anything else —
tampered, truncated, naive, out of range — decodes to None, and each caller says what that
means for it (the API answers ``invalid_cursor``; a portal page starts from the newest rows).
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from outcomeportal.core.numbers import BIGINT_MAX


def keyset_encode(at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def keyset_decode(token: str) -> tuple[datetime, int] | None:
    """(timestamp, id), or None for anything :func:`keyset_encode` did not produce."""
    if not token or len(token) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        at_text, pk_text = raw.split("|")
        at, pk = datetime.fromisoformat(at_text), int(pk_text)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    if at.tzinfo is None or not 0 < pk <= BIGINT_MAX:
        return None
    # Exactly the text the encoder writes: int() and fromisoformat() also read spaces, signs, "1_0",
    # leading zeros, other scripts' digits and other spellings of a time, which no cursor holds.
    if keyset_encode(at, pk) != token:
        return None
    return at, pk
