"""The COPY text fields: what PostgreSQL reads back is exactly what was written."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from outcomeportal.core.copy_text import NULL, flag, number, text


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ("plain", "plain"),
        ("tab\there", "tab\\there"),
        ("line\nbreak\r", "line\\nbreak\\r"),
        ("back\\slash \\N", "back\\\\slash \\\\N"),
        ("ünïcødé ✓", "ünïcødé ✓"),
        (None, NULL),
    ],
)
def test_text_escapes_only_what_the_format_reserves(value, field):
    assert text(value) == field


def test_numbers_and_flags():
    assert (number(None), number(7), number(Decimal("0.990000")), number(Decimal("1E+3"))) == (
        NULL,
        "7",
        "0.990000",
        "1E+3",
    )
    assert (flag(True), flag(False)) == ("t", "f")


@pytest.mark.django_db
def test_postgresql_reads_back_every_field_as_written():
    awkward = "a\tb\nc\rd\\e \\N f"
    row = f"{text(awkward)}\t{text(None)}\t{number(Decimal('1E+3'))}\t{number(None)}\t{flag(True)}\n"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE copy_text_probe (s text, n text, d numeric, m numeric, b boolean)")
        with cursor.cursor.copy("COPY copy_text_probe FROM STDIN") as copy:
            copy.write(row.encode())
        cursor.execute("SELECT s, n, d, m, b FROM copy_text_probe")
        assert cursor.fetchall() == [(awkward, None, Decimal("1000"), None, True)]
