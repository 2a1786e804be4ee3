"""Serializer fields shared by the API apps."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from rest_framework import serializers


class DecimalString(serializers.Field):
    """An amount as the contract writes it: a decimal string ("0.99"), never a JSON number."""

    default_error_messages = {
        "invalid": 'Must be a decimal string such as "0.99".',
        "negative": "Must not be negative.",
        "places": "At most {places} decimal places.",
        "max": "Must be below {limit}.",
    }

    def __init__(self, *, places: int = 4, max_digits: int | None = None, allow_negative: bool = False, **kwargs):
        self.places = places
        # As the model's DecimalField: larger values would overflow the database column.
        self.max_digits = max_digits
        self.allow_negative = allow_negative
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            value = Decimal(data)
        except InvalidOperation:
            self.fail("invalid")
        if not value.is_finite() or abs(value) >= Decimal("1e12"):
            self.fail("invalid")
        if value < 0 and not self.allow_negative:
            self.fail("negative")
        if value.as_tuple().exponent < -self.places:
            self.fail("places", places=self.places)
        if self.max_digits is not None and abs(value) >= 10 ** (self.max_digits - self.places):
            self.fail("max", limit=f"{10 ** (self.max_digits - self.places):,}")
        return value

    def to_representation(self, value):
        return None if value is None else str(value)
