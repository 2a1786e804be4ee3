"""The contract form's inputs: what each kind of value is typed as, and how it goes into the
document the API would receive (amounts as the strings typed, counts as numbers, empty left out)."""

from __future__ import annotations

import re

from django import forms

_INTEGER = re.compile(r"[0-9]+\Z")
DECIMAL = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
NUMBER = forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"})


def as_decimal(text: str) -> str | None:
    """An amount as the document carries it: the string typed; empty, left out."""
    return text or None


def as_integer(text: str) -> object:
    """A count as a JSON body would carry it; empty, left out; anything else stays text (refused)."""
    return int(text) if _INTEGER.match(text) else (text or None)


def as_date(text: str) -> str | None:
    return text or None


def as_text(value) -> str:
    return "" if value is None else str(value)


def compact(doc: dict) -> dict:
    """Leave out what was left empty: the document's defaults apply (as in the API)."""
    return {k: v for k, v in doc.items() if v is not None}


def decimal_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(required=False, label=label, help_text=help_text, widget=DECIMAL)


def integer_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(required=False, label=label, help_text=help_text, widget=NUMBER)


def date_field(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        required=False, label=label, help_text=help_text, widget=forms.DateInput(attrs={"type": "date"})
    )
