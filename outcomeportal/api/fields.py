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
from outcomeportal.core.times import rfc3339_parse

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

    def __init__(self, *, places: int = 4, max_digits: int = 16, allow_negative: bool = False, **kwargs):
        self.places = places
        # As the model's DecimalField: larger values would overflow the database column.
        self.whole_digits = max_digits - places
        self.allow_negative = allow_negative  # a response's figure that can be below zero (a net)
        super().__init__(**kwargs)

    @property
    def pattern(self) -> str:
        unsigned = decimal_pattern(whole_digits=self.whole_digits, places=self.places)
        return f"^-?{unsigned[1:]}" if self.allow_negative else unsigned

    def to_internal_value(self, data):
        sign = 1
        if self.allow_negative and isinstance(data, str) and data.startswith("-"):
            sign, data = -1, data[1:]
        try:
            return sign * decimal_parse(data, whole_digits=self.whole_digits, places=self.places)
        except DecimalRefused as refused:
            self.fail(refused.reason, places=self.places, limit=f"{10**self.whole_digits:,}")

    def to_representation(self, value):
        return None if value is None else str(value)


class Rfc3339Field(serializers.Field):
    """An instant as the contract writes it: RFC 3339 with a time zone; an aware UTC datetime inside."""

    default_error_messages = {"invalid": "Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."}

    def to_internal_value(self, data):
        parsed = rfc3339_parse(data)
        if parsed is None:
            self.fail("invalid")
        return parsed

    def to_representation(self, value):
        return value.isoformat().replace("+00:00", "Z")


# --- Strict JSON types ----------------------------------------------------------------------------
#
# DRF reads a body loosely: a CharField takes 12 and makes it "12", a BooleanField takes "yes" and
# 1, an IntegerField takes "12" and 12.0. The API takes each field in the JSON type its schema
# gives, as the contract says, and refuses anything else with the field named. Input serializers
# use these; a value of the right type then goes through DRF's own checks.


class _JsonTyped:
    json_types: tuple[type, ...] = (str,)

    def to_internal_value(self, data):
        if not isinstance(data, self.json_types) or (bool not in self.json_types and isinstance(data, bool)):
            # The field's own message for a value it cannot read ("A valid integer is required.").
            if "invalid" in self.error_messages:
                self.fail("invalid")
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class CharField(_JsonTyped, serializers.CharField):
    """Text as written: not trimmed (DRF trims by default, so "   " would pass the schema's
    ``minLength`` and then be refused as blank)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class RegexField(_JsonTyped, serializers.RegexField):
    pass


class SlugField(_JsonTyped, serializers.SlugField):
    pass


class ChoiceField(_JsonTyped, serializers.ChoiceField):
    """A choice of words (every choice of the API is a string)."""


class BooleanField(_JsonTyped, serializers.BooleanField):
    json_types = (bool,)


class IntegerField(_JsonTyped, serializers.IntegerField):
    json_types = (int,)


class UniqueListField(serializers.ListField):
    """A list whose items may each appear once (``uniqueItems`` in the schema); the serializer says
    which duplicate in its own words."""


class PatternedCharField(serializers.CharField):
    """Text whose schema carries ``pattern``, refused by the serializer's own validator in its own words
    (a RegexField would answer "does not match the required pattern" instead)."""

    def __init__(self, *, pattern: str, **kwargs):
        self.pattern = pattern
        super().__init__(**kwargs)
