"""Instants: RFC 3339 in, aware UTC datetimes out (the API's timestamps, ``--now`` of every command)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z")


def rfc3339_parse(value: object) -> datetime | None:
    """An RFC 3339 timestamp with an offset, as an aware UTC datetime; None if it is not one."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    if parsed.tzinfo is UTC:  # "Z", "+00:00": already in UTC
        return parsed
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the year 9999 in UTC
        return None
