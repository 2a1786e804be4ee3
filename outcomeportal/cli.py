"""Helpers shared by management commands."""

from __future__ import annotations

from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone

from outcomeportal.core.times import rfc3339_parse


def parse_now(value: str | None) -> datetime:
    """``--now <RFC 3339>`` for simulated time; the real clock when absent."""
    if not value:
        return timezone.now()
    parsed = rfc3339_parse(value)
    if parsed is None:
        raise CommandError(f"--now must be an RFC 3339 timestamp such as 2026-11-30T00:00:00Z, not {value!r}.")
    return parsed
