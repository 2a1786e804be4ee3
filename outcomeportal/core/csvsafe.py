"""CSV cells a spreadsheet will not run: the one rule every CSV export follows.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (``=HYPERLINK(…)``, ``@SUM(…)``, ``+cmd|…``).
Event ids, workflows, source URLs and invoice descriptions come from the vendor's platform or
from people, so every export neutralises such a cell the way OWASP's "CSV Injection" page says:
**prefix it with a single quote**, which spreadsheets show as text and do not evaluate.

One exception, also OWASP's: a cell that is plainly a number (``-12.50``, ``+3``, ``-0.5``) is
left alone, so a negative amount stays a number the spreadsheet can add up. "Plainly" means an
optional sign, digits and at most one decimal point — nothing else (``-1+1`` is escaped).

* :func:`cell_safe` — the rule for one cell.
* :func:`writer` — ``csv.writer`` with the rule applied to every cell it writes.
* :func:`stream_safe` — the rule over CSV bytes produced elsewhere (PostgreSQL's ``COPY … TO
  STDOUT WITH (FORMAT csv)``), chunk by chunk, touching only the rows that need it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# Finding the rows to look at in CSV text, fast: with the quotes dropped, every trigger made a
# NUL (PostgreSQL text never holds one) and every line break a comma, a cell that starts with a
# trigger is a "," followed by a NUL (or a NUL first of all). Two C-speed passes over a block,
# about a tenth of a regular expression's time; a comma or a line break inside a quoted cell may
# be a false alarm, which only costs that row a parse.
_MARKED = bytes.maketrans(b"=+-@\t\r\n", b"\0\0\0\0\0\0,")


def cell_safe(value: Any) -> Any:
    """The cell as it may go into a CSV file: with a leading ``'`` if a spreadsheet would evaluate it."""
    if value is None or isinstance(value, int | float | Decimal):
        return value  # csv writes these as plain numbers (or nothing)
    text = value if isinstance(value, str) else str(value)
    if text.startswith(TRIGGERS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`cell_safe` first."""

    def __init__(self, file, **kwargs):
        self._writer = csv.writer(file, **kwargs)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([cell_safe(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(file, **kwargs) -> SafeWriter:
    """Use instead of ``csv.writer`` in every export (same arguments)."""
    return SafeWriter(file, **kwargs)


def stream_safe(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """CSV bytes (UTF-8, comma, ``"``, rows ending in ``\\n``) with :func:`cell_safe` applied.

    Chunks may split a row anywhere; what is yielded always ends on a row boundary (a line
    break outside quotes). A block of rows with no cell that could start with a trigger — nearly
    all of them — is yielded unchanged; a row that does is parsed and written again with its
    cells made safe. In a row written again, an empty quoted cell (``""``, PostgreSQL's empty
    string) becomes an empty cell (its NULL), which a spreadsheet shows alike.
    """
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        end = _rows_end(data)
        if end:
            yield _block_safe(data[:end])
        carry = data[end:]
    if carry:
        yield _block_safe(carry)


def _rows_end(data: bytes) -> int:
    """Length of the longest prefix of ``data`` made of whole rows (0 if there is none yet).

    ``data`` starts on a row boundary, so a line break ends a row exactly when the quotes
    before it are even (an escaped quote is two of them).
    """
    end = data.rfind(b"\n") + 1
    while end and data.count(b'"', 0, end) % 2:
        end = data.rfind(b"\n", 0, end - 1) + 1
    return end


def _may_start_a_cell_with_a_trigger(text: bytes) -> bool:
    marked = text.translate(_MARKED, b'"')
    return marked.startswith(b"\0") or b",\0" in marked


def _block_safe(block: bytes) -> bytes:
    if not _may_start_a_cell_with_a_trigger(block):
        return block
    return b"".join(_row_safe(row) for row in _rows(block))


def _rows(block: bytes) -> Iterator[bytes]:
    start = pos = quotes = 0
    while (newline := block.find(b"\n", pos)) != -1:
        quotes += block.count(b'"', pos, newline)
        pos = newline + 1
        if quotes % 2 == 0:
            yield block[start:pos]
            start, quotes = pos, 0
    if start < len(block):
        yield block[start:]


def _row_safe(row: bytes) -> bytes:
    if not _may_start_a_cell_with_a_trigger(row):
        return row
    cells = next(csv.reader(io.StringIO(row.decode("utf-8"), newline="")))
    safe = [cell_safe(cell) for cell in cells]
    if safe == cells:
        return row  # e.g. a negative amount: a plain number stays as PostgreSQL wrote it
    out = io.StringIO()
    # "\r\n" as the terminator makes the writer quote a cell holding either (as PostgreSQL does);
    # the row then ends as the others do.
    csv.writer(out, lineterminator="\r\n").writerow(safe)
    text = out.getvalue().removesuffix("\r\n") + ("\n" if row.endswith(b"\n") else "")
    return text.encode("utf-8")
