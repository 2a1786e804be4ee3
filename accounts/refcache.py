"""Reference data kept in each process between requests, exact to the last committed change.

Ingestion resolves the same few things for every batch: the accounts and outcome types an event
names, their current success criteria, the contracts that price them, the spend controls that cap
them. They change rarely, but a decision must never use a version older than the one in force.

So every change to those tables bumps one stamp, in the same transaction: a statement trigger
runs ``refdata_changed()`` (``accounts/migrations/0003``) after any insert, update, delete or
truncate, from the app, the admin or raw SQL. The watched tables: accounts, outcome types,
success criteria (``metering/migrations/0010``), contract versions and spend controls
(``billing/migrations/0005``). A process reads the stamp first, then keeps what it looks up under
that stamp, and drops it all when the stamp moves:

* the stamp and the data change in one commit, and the stamp is read before the data: what a
  process keeps is never older than its stamp, and the first reader of a newer stamp drops it;
* the stamp takes its values from a sequence, which never hands out a value twice, so a stamp
  rolled back with its transaction is never seen again with other data;
* where the stamp cannot be read (no row), nothing is kept.

The price: transactions that change reference data queue on the stamp's one row until they end.
Such changes are operators' edits (a contract, a cap, a criteria version), one at a time; events,
signals, invoices and disputes never touch the watched tables.

Usage, for a unit of work that should see one stamp (one ingestion batch)::

    with refcache.pinned():
        targets = refcache.kept("metering.ingest.targets", pairs, targets_read)  # reads what is missing
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Set
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection

_UNREAD = object()
_pinned: ContextVar[object] = ContextVar("refcache_pinned_stamp", default=_UNREAD)
# name -> (database, stamp, the kept data)
_caches: dict[str, tuple[str, int, dict]] = {}
# A kept dict that grows past this (keys taken from requests, such as unknown account names) starts over.
MAX_ENTRIES = 50_000


def stamp() -> int | None:
    """The stamp now visible to this connection (None if it cannot be read)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT n FROM refdata_stamp WHERE id = 1")
        row = cursor.fetchone()
    return row[0] if row else None


def current() -> int | None:
    """The stamp this unit of work sees: the pinned one inside :func:`pinned`, else read now."""
    value = _pinned.get()
    return stamp() if value is _UNREAD else value


@contextmanager
def pinned() -> Iterator[None]:
    """Read the stamp once, here, for every :func:`cache` call inside the block."""
    token = _pinned.set(stamp())
    try:
        yield
    finally:
        _pinned.reset(token)


def cache(name: str) -> dict:
    """The dict kept under ``name`` for the current stamp: empty after any change to reference data.

    Fill it with what was read *after* the stamp (inside the :func:`pinned` block, or after this
    call). Outside a pinned block the stamp is read at each call.
    """
    current = _pinned.get()
    if current is _UNREAD:
        current = stamp()
    if current is None:
        return {}
    database = connection.settings_dict["NAME"]
    kept = _caches.get(name)
    if kept is None or kept[0] != database or kept[1] != current or len(kept[2]) > MAX_ENTRIES:
        kept = _caches[name] = (database, current, {})
    return kept[2]


def kept(name: str, keys: Set, read: Callable[[set], dict]) -> dict:
    """The dict kept under ``name`` (see :func:`cache`), with ``read(missing)`` added for the keys
    it does not hold yet; ``read`` may leave out a key it finds nothing for (it is read again next time)."""
    known = cache(name)
    missing = keys - known.keys()
    if missing:
        known.update(read(missing))
    return known
