"""Reading a contract document's fields: each helper checks one value and records, by field path,
what is wrong with it (the API's ``fields`` of a 400). Pure — no Django."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation


class Errors:
    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)


def dec(raw, name: str, errors: Errors, *, required: bool = False, places: int = 6, positive: bool = False):
    if raw is None:
        if required:
            errors.add(name, "Required.")
        return None
    if not isinstance(raw, str):
        errors.add(name, 'A decimal string such as "0.99" (never a JSON number).')
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors.add(name, 'A decimal string such as "0.99".')
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e12"):
        errors.add(name, "Out of range.")
        return None
    if value < 0:
        errors.add(name, "Must not be negative.")
        return None
    if positive and value == 0:
        errors.add(name, "Must be greater than zero.")
        return None
    if value.as_tuple().exponent < -places:
        errors.add(name, f"At most {places} decimal places.")
        return None
    return value


def integer(raw, name: str, errors: Errors, *, default: int | None = 0, minimum: int = 0, maximum: int = 10**12):
    if raw is None:
        return default
    if not isinstance(raw, int) or isinstance(raw, bool) or not minimum <= raw <= maximum:
        errors.add(name, f"An integer from {minimum} to {maximum}.")
        return default
    return raw


def date_field(raw, name: str, errors: Errors, *, default: date | None = None):
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else _bad_date()
    except ValueError:
        errors.add(name, "A date, YYYY-MM-DD.")
        return default


def _bad_date():
    raise ValueError


def obj(raw, name: str, errors: Errors, allowed: set[str]) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.add(name, "An object.")
        return None
    for key in set(raw) - allowed:
        errors.add(f"{name}.{key}", "Unknown field.")
    return raw


def boolean(raw, name: str, errors: Errors, default: bool = False) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, bool):
        errors.add(name, "true or false.")
        return default
    return raw
