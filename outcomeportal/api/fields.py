"""Serializer fields shared by the API apps."""

from __future__ import annotations

from rest_framework import serializers

from outcomeportal.core.numbers import (
    NEGATIVE,
    NOT_DECIMAL,
    TOO_LARGE,
    TOO_PRECISE,
    DecimalRefused,
    decimal_parse,
    decimal_pattern,
)

# How amounts read in responses: a decimal string, signed where a line can be (a discount).
RESPONSE_DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"


class DecimalString(serializers.Field):
    """An amount as the contract writes it: a decimal string ("0.99"), never a JSON number.

    Written by a client, it is the grammar of :mod:`outcomeportal.core.numbers`: unsigned ASCII
    digits, at most ``max_digits - places`` of them before the point (what the column holds) and
    ``places`` after it. The OpenAPI schema publishes the same grammar as its pattern.
    """

    default_error_messages = {
        NOT_DECIMAL: 'Must be a decimal string such as "0.99".',
        NEGATIVE: "Must not be negative.",
        TOO_PRECISE: "At most {places} decimal places.",
        TOO_LARGE: "Must be below {limit}.",
    }

    def __init__(self, *, places: int = 4, max_digits: int = 16, **kwargs):
        self.places = places
        # As the model's DecimalField: larger values would overflow the database column.
        self.whole_digits = max_digits - places
        super().__init__(**kwargs)

    @property
    def pattern(self) -> str:
        return decimal_pattern(whole_digits=self.whole_digits, places=self.places)

    def to_internal_value(self, data):
        try:
            return decimal_parse(data, whole_digits=self.whole_digits, places=self.places)
        except DecimalRefused as refused:
            self.fail(refused.reason, places=self.places, limit=f"{10**self.whole_digits:,}")

    def to_representation(self, value):
        return None if value is None else str(value)
