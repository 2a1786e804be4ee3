"""The money log's fixed formats: canonical JSON, an entry's body and hash, a charge's digest line.

These are the contract of the chain — anyone can recompute a hash from them, with any SHA-256
and any JSON library, and so they never change:

* **canonical JSON**: UTF-8, keys sorted, no spaces (``","`` and ``":"`` separators), no ASCII
  escaping; a :class:`~decimal.Decimal` is written as a string (``"12.50"``, never a float), a
  time as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, a date as ``YYYY-MM-DD``. Floats are refused.
* an **entry's body** is the canonical JSON of ``{"account", "actor", "at", "data", "kind",
  "ref"}``; its **hash** is the hex SHA-256 of ``prev_hash + body`` (UTF-8). The first entry's
  ``prev_hash`` is :data:`GENESIS_PREV` (64 zeros).
* a **charge's digest line** is ``"<event id>|<amount>|<credits>|<state>\\n"`` — the amount at 6
  places, the credits at 4 (as the charge ledger stores them), an empty field for none; a set of
  charges' **digest** is the SHA-256 of their lines in event-id order (the SHA-256 of nothing
  for no charges). :data:`CHARGE_LINE_SQL` is the same line in SQL.

Standard library only: importable from migrations and by any verifier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

GENESIS_PREV = "0" * 64
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()
AMOUNT_QUANTUM = Decimal("0.000001")  # billing_charge.amount: numeric(18, 6)
CREDITS_QUANTUM = Decimal("0.0001")  # billing_charge.credits: numeric(18, 4)


def plain(value: object) -> object:
    """``value`` as JSON's plain types: Decimals, times and dates as strings, tuples as lists.

    Dictionary keys must be strings (an int key would sort differently once it is text). Floats
    are refused: money never passes through them.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return time_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"Money log keys are strings, not {type(key).__name__} ({key!r}).")
            out[key] = plain(item)
        return out
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    raise TypeError(f"{type(value).__name__} has no place in the money log ({value!r}).")


def canonical_json(value: object) -> str:
    """The canonical JSON text of ``value`` (see the module docstring)."""
    return canonical_dumps(plain(value))


def canonical_dumps(value: object) -> str:
    """The canonical JSON text of a value made of JSON's plain types already (:func:`plain`)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decimal_text(value: Decimal) -> str:
    """A Decimal as plain digits (``"1500.00"``, never ``"1.5E+3"``); −0 is written 0."""
    if not value.is_finite():
        raise ValueError(f"{value} has no place in the money log.")
    return format(value + 0, "f")


def time_text(value: datetime) -> str:
    """A time as UTC with microseconds: ``2026-11-21T14:05:00.000000Z``."""
    if value.tzinfo is None:
        raise ValueError("Money log times are aware (UTC).")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_body(*, account: int | None, actor: Mapping, at: datetime, data: Mapping, kind: str, ref: str) -> str:
    """An entry's canonical JSON: what its hash covers, besides the previous entry's hash.

    ``data`` is made of JSON's plain types already (:func:`plain`; as read back from the log)."""
    head = {"account": account, "actor": plain(actor), "at": time_text(at), "kind": kind, "ref": ref}
    return canonical_dumps({**head, "data": data})


def entry_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def digest_of(value: object) -> str:
    """The SHA-256 of ``value``'s canonical JSON: how a row is summed up in an entry."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


# --- Charges --------------------------------------------------------------------------------


def amount_text(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value.quantize(AMOUNT_QUANTUM, rounding=ROUND_HALF_UP))


def credits_text(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value.quantize(CREDITS_QUANTUM, rounding=ROUND_HALF_UP))


def charge_line(event_id: int, amount: Decimal | None, credits: Decimal | None, state: str) -> str:
    return f"{event_id}|{amount_text(amount)}|{credits_text(credits)}|{state}\n"


def charges_digest(rows: Iterable[tuple[int, Decimal | None, Decimal | None, str]]) -> str:
    """The digest of charges given as ``(event id, amount, credits, state)``, in any order."""
    lines = [charge_line(*row) for row in sorted(rows, key=lambda row: row[0])]
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def charge_line_sql(alias: str, *, state: str | None = None) -> str:
    """:func:`charge_line` in SQL, over a row of ``billing_charge`` (or a CTE with its columns)
    called ``alias``; ``state`` a literal state to write instead of the row's."""
    state_sql = f"'{state}'" if state is not None else f"{alias}.state"
    return (
        f"{alias}.event_id::text || '|' || coalesce({alias}.amount::text, '') || '|' || "
        f"coalesce({alias}.credits::text, '') || '|' || {state_sql} || E'\\n'"
    )


def charges_digest_sql(alias: str, *, state: str | None = None) -> str:
    """An aggregate over rows ``alias``: their digest (:func:`charges_digest`), hex."""
    return (
        f"encode(sha256(convert_to(coalesce(string_agg({charge_line_sql(alias, state=state)}, '' "
        f"ORDER BY {alias}.event_id), ''), 'UTF8')), 'hex')"
    )
