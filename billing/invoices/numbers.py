"""Gapless document numbers (``INV-000001``, ``CN-000001``): a counter row per series, taken under its
lock in the same transaction as the document it numbers, and the lock order every numbering
transaction follows."""

from __future__ import annotations

from django.db import connection, transaction

from billing.invoices.models import NumberSeries

SERIES_PREFIX = {"invoice": "INV-", "credit_note": "CN-"}


def number_take(series: str) -> str:
    """The next number of a series, under the counter row's lock (held until commit: no gaps)."""
    NumberSeries.objects.bulk_create(
        [NumberSeries(name=series, prefix=SERIES_PREFIX[series])], ignore_conflicts=True
    )  # the migration creates the rows; this only guards an emptied table
    row = NumberSeries.objects.select_for_update().get(name=series)
    number = f"{row.prefix}{row.next_value:06d}"
    NumberSeries.objects.filter(name=series).update(next_value=row.next_value + 1)
    return number


def number_series_lock() -> None:
    """Lock the number series until commit. A transaction that locks invoice rows and then takes a
    number (finalization, the dispute credit job) calls this first, so every such transaction
    takes its locks in one order — number series, invoice rows, counter row — and none deadlocks."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_series_lock holds a lock until commit: call it inside transaction.atomic().")
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {NumberSeries._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
