"""Reading a contract document's fields: each helper checks one value and records, by field path,
what is wrong with it (the API's ``fields`` of a 400). Pure — no Django."""

from __future__ import annotations

from datetime import date

from outcomeportal.core.numbers import (
    INTEGER_MAX,
    NEGATIVE,
    NOT_DECIMAL,
    TOO_LARGE,
    TOO_PRECISE,
    DecimalRefused,
    decimal_parse,
)

_DECIMAL_MESSAGES = {
    NOT_DECIMAL: 'A decimal string such as "0.99".',
    TOO_LARGE: "Out of range.",
    NEGATIVE: "Must not be negative.",
    TOO_PRECISE: "At most {places} decimal places.",
}


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
        value = decimal_parse(raw, whole_digits=12, places=places)
    except DecimalRefused as refused:
        errors.add(name, _DECIMAL_MESSAGES[refused.reason].format(places=places))
        return None
    if positive and value == 0:
        errors.add(name, "Must be greater than zero.")
        return None
    return value


def integer(raw, name: str, errors: Errors, *, default: int | None = 0, minimum: int = 0, maximum: int = INTEGER_MAX):
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
