"""Keyset cursors are read back only as this API wrote them: anything else decodes to None."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from outcomeportal.core.cursors import keyset_decode, keyset_encode

AT = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize("pk", [1, 42, 2**63 - 1])
def test_a_cursor_reads_back_as_written(pk):
    assert keyset_decode(keyset_encode(AT, pk)) == (AT, pk)


@pytest.mark.parametrize(
    "token",
    [
        raw(f"{AT.isoformat()}|{2**63}"),  # beyond bigint
        raw(f"{AT.isoformat()}|{10**30}"),
        raw(f"{AT.isoformat()}|0"),
        raw(f"{AT.isoformat()}|-5"),
        raw(f"{AT.isoformat()}| 5"),  # int() reads all of these; the encoder writes none
        raw(f"{AT.isoformat()}|5 "),
        raw(f"{AT.isoformat()}|+5"),
        raw(f"{AT.isoformat()}|1_0"),
        raw(f"{AT.isoformat()}|05"),
        raw(f"{AT.isoformat()}|\u0665"),
        raw("2026-11-01T12:30:00|5"),  # naive
        raw("2026-11-01|5"),
        raw("2026-11-01T12:30:00Z|5"),  # not how the encoder writes it
        raw(f" {AT.isoformat()}|5"),
        raw(f"{AT.isoformat()}|5|6"),
        raw(f"{AT.isoformat()}"),
        keyset_encode(AT, 5) + "==",
        keyset_encode(AT, 5) + "A",
        "garbage!",
        "",
        "%FF",
        "a" * 201,
    ],
)
def test_anything_else_is_not_a_cursor(token):
    assert keyset_decode(token) is None
