"""Validation of posted outcome events: plain Python, one pass per event, no framework.

The ingestion hot path validates up to 1,000 events per request; a generic serializer
per event would cost more than the database insert itself (see bench/README.md). The
rules are exactly those of api-v1.md; every failure names its field.

Each rule is written once, and the common case costs little: a well-formed value passes a cheap
test (a text: ``type(value) is str``, its length, no NUL; a flag: ``type(value) is bool``; an
amount: the pattern of a plain, unsigned decimal), and only a value that fails it goes through the checks
that work out which rule it breaks and record the error (``_text``, ``_flags``, the rest of ``_amount``).
The checks run in whichever order is cheapest; an event's errors are then listed in a fixed order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import orjson

from outcomeportal.core.numbers import NEGATIVE, NOT_DECIMAL, TOO_LARGE, TOO_PRECISE, decimal_pattern, decimal_refusal
from outcomeportal.core.times import rfc3339_parse

COMPLEXITIES = frozenset({"simple", "moderate", "complex"})
FAILURE_REASONS = frozenset({"abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show"})
MAX_ATTRIBUTES_BYTES = 8 * 1024
KNOWN_FIELDS = frozenset(
    {
        "event_id",
        "account",
        "outcome_type",
        "occurred_at",
        "success_criteria_met",
        "human_handoff",
        "channel",
        "workflow",
        "session_id",
        "complexity",
        "verification_method",
        "source_url",
        "sandbox",
        "failure_reason",
        "value_amount",
        "cost_amount",
        "attributes",
    }
)


@dataclass(slots=True)
class ParsedEvent:
    event_id: str
    account: str
    outcome_type: str
    occurred_at: datetime
    success_criteria_met: bool
    human_handoff: bool
    channel: str
    workflow: str
    session_id: str
    complexity: str
    verification_method: str
    source_url: str
    sandbox: bool
    failure_reason: str
    value_amount: Decimal | None
    cost_amount: Decimal | None
    attributes: dict
    attributes_json: bytes
    payload_hash: str
    occurred_at_iso: str  # occurred_at.isoformat(): hashed here, stored as is by the ingestion's COPY


@dataclass(frozen=True, slots=True)
class EventError:
    code: str
    message: str
    fields: dict[str, list[str]]

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "fields": self.fields}


# One RFC 3339 reader for the whole product (the kernel's); ingestion calls it per timestamp.
parse_timestamp = rfc3339_parse


def _utc_isoformat(at: datetime, text: str) -> str:
    """``at.isoformat()``, for ``at = parse_timestamp(text)``: read off the text when it is written in UTC.

    ``isoformat()`` is slow (about as slow as checking all ten text fields). A timestamp written in
    UTC has the same date and time as ``at`` in its first 19 characters, in ASCII digits (the only
    ones ``fromisoformat`` reads there), so only the fraction of a second is formatted.
    """
    if text[-1] not in "Zz" and text[-6:] not in ("+00:00", "-00:00"):
        return at.isoformat()
    if at.microsecond:
        return f"{text[:10]}T{text[11:19]}.{at.microsecond:06d}+00:00"
    return f"{text[:10]}T{text[11:19]}+00:00"


# The grammar of an amount (outcomeportal.core.numbers): at most 12 digits before the point and 6
# after it, plain ASCII, never negative — valid by construction, so the common case skips the rest.
_PLAIN_DECIMAL = re.compile(decimal_pattern(whole_digits=12, places=6))
_AMOUNT_MESSAGES = {
    NOT_DECIMAL: 'Must be a decimal string such as "12.50".',
    NEGATIVE: "Must not be negative.",
    TOO_LARGE: "Must be a finite decimal below 10^12.",
    TOO_PRECISE: "At most 6 decimal places.",
}


def _amount(name: str, value: object, errors: dict) -> Decimal | None:
    """A posted amount (not null) as a Decimal; None, with its error recorded, if it is not a valid one."""
    if type(value) is str and _PLAIN_DECIMAL.match(value):
        return Decimal(value)
    errors[name] = [_AMOUNT_MESSAGES[decimal_refusal(value, whole_digits=12, places=6)]]
    return None


def _hashed(amount: Decimal | None) -> str:
    """An amount as it is hashed: "0.99" and "0.990" are the same payload."""
    return "None" if amount is None else str(amount.normalize())


# An absolute http(s) URL with a host (a regular expression: cheaper than urlsplit, never raises).
_HTTP_URL = re.compile(r"https?://(?:[^\s/?#@\[\]]+|\[[0-9a-f:.]+\](?::\d+)?)(?:[/?#]\S*)?\Z", re.IGNORECASE)

# The text fields: (name, maximum length, value when absent: None for a required field).
_TEXTS = (
    ("event_id", 128, None),
    ("account", 128, None),
    ("outcome_type", 64, None),
    ("channel", 64, ""),
    ("workflow", 128, ""),
    ("session_id", 128, ""),
    ("verification_method", 64, ""),
    ("complexity", 16, ""),
    ("failure_reason", 32, ""),
    ("source_url", 2048, ""),
)
# The flags: (name, value when absent: None for a required flag).
_FLAGS = (("success_criteria_met", None), ("human_handoff", False), ("sandbox", False))
_COMPLEXITY_ERROR = "Must be one of simple, moderate, complex."
_FAILURE_REASON_ERROR = f"Must be one of {', '.join(sorted(FAILURE_REASONS))}."
_RFC3339_ERROR = "Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."

# The order in which an event's errors are listed, whatever the order of the checks (the one they
# have always been listed in): these fields, then unknown fields (sorted by name), then occurred_at.
_FIELD_ORDER = (
    "event_id",
    "account",
    "outcome_type",
    "success_criteria_met",
    "human_handoff",
    "sandbox",
    "channel",
    "workflow",
    "session_id",
    "verification_method",
    "complexity",
    "failure_reason",
    "source_url",
    "value_amount",
    "cost_amount",
    "attributes",
)
_ERROR_RANK = {name: rank for rank, name in enumerate(_FIELD_ORDER)} | {"occurred_at": len(_FIELD_ORDER) + 1}
_UNKNOWN_FIELD_RANK = len(_FIELD_ORDER)


def _in_field_order(errors: dict) -> dict:
    """The errors in the order they are listed (a stable sort: unknown fields keep their sorted order)."""
    return dict(sorted(errors.items(), key=lambda error: _ERROR_RANK.get(error[0], _UNKNOWN_FIELD_RANK)))


def _text(name: str, value: object, limit: int, required: bool, errors: dict) -> str:
    """A text field's value, recording what is wrong with it: "" if it is absent or not a string."""
    if value is None:
        if required:
            errors[name] = ["This field is required."]
        return ""
    if not isinstance(value, str):
        errors[name] = ["Must be a string."]
        return ""
    if required and not value:
        errors[name] = ["May not be empty."]
    if "\x00" in value:
        errors[name] = ["May not contain NUL characters."]
    if len(value) > limit:
        errors[name] = [f"At most {limit} characters."]
    return value


def _flags(raw: dict, errors: dict) -> list[bool]:
    """The flags' values, recording what is wrong with those that are not true or false (taken as false)."""
    values = []
    for name, absent in _FLAGS:
        value = raw.get(name, absent)
        if value is not True and value is not False:
            errors[name] = ["This field is required."] if value is None else ["Must be true or false."]
            value = False
        values.append(value)
    return values


def event_parse(raw: object, *, now: datetime, late_window: timedelta, future_tolerance: timedelta):
    """Return a :class:`ParsedEvent`, or an :class:`EventError` naming every bad field."""
    if not isinstance(raw, dict):
        return EventError("invalid_event", "Each event must be a JSON object.", {})
    errors: dict[str, list[str]] = {}
    get = raw.get
    texts = []
    for name, limit, absent in _TEXTS:
        value = get(name, absent)
        if type(value) is not str or len(value) > limit or "\x00" in value or (absent is None and not value):
            value = _text(name, value, limit, absent is None, errors)
        texts.append(value)
    (event_id, account, outcome_type, channel, workflow, session_id, verification, complexity, failure_reason,
     source_url) = texts  # fmt: skip
    if complexity and complexity not in COMPLEXITIES:
        errors["complexity"] = [_COMPLEXITY_ERROR]
    if failure_reason and failure_reason not in FAILURE_REASONS:
        errors["failure_reason"] = [_FAILURE_REASON_ERROR]
    if source_url and "source_url" not in errors and not _HTTP_URL.match(source_url):
        errors["source_url"] = ["Must be an http(s) URL."]
    success = get("success_criteria_met")
    handoff = get("human_handoff", False)
    sandbox = get("sandbox", False)
    if not type(success) is type(handoff) is type(sandbox) is bool:
        success, handoff, sandbox = _flags(raw, errors)
    value_amount = get("value_amount")
    if value_amount is not None:
        value_amount = _amount("value_amount", value_amount, errors)
    cost_amount = get("cost_amount")
    if cost_amount is not None:
        cost_amount = _amount("cost_amount", cost_amount, errors)
    attributes = get("attributes")
    if attributes is None:
        attributes, attributes_json = {}, b"{}"
    else:
        attributes, attributes_json = _attributes(attributes, errors)
    if not KNOWN_FIELDS.issuperset(raw):
        for name in sorted(raw.keys() - KNOWN_FIELDS):
            errors[name] = ["Unknown field."]

    occurred_raw = get("occurred_at")
    occurred_at = parse_timestamp(occurred_raw)
    if occurred_at is None or errors:
        return _invalid(occurred_raw, occurred_at, errors)
    if not now - late_window <= occurred_at <= now + future_tolerance:
        return _out_of_range(occurred_at, now=now, late_window=late_window)

    occurred_at_iso = _utc_isoformat(occurred_at, occurred_raw)
    payload_hash = _payload_hash(texts, occurred_at_iso, success, handoff, sandbox, value_amount, cost_amount,
                                 attributes_json)  # fmt: skip
    # Positionally, in the order of ParsedEvent's fields: keyword arguments cost twice as much to pass.
    return ParsedEvent(event_id, account, outcome_type, occurred_at, success, handoff, channel, workflow, session_id,
                       complexity, verification, source_url, sandbox, failure_reason, value_amount, cost_amount,
                       attributes, attributes_json, payload_hash, occurred_at_iso)  # fmt: skip


def _payload_hash(texts: list[str], occurred_at_iso: str, success: bool, handoff: bool, sandbox: bool,
                  value_amount, cost_amount, attributes_json: bytes) -> str:  # fmt: skip
    """The payload's values as text, joined by a unit separator (str() of the booleans and amounts),
    hashed with the attributes' canonical JSON. Stored payload hashes must keep matching re-posts,
    so this text never changes. ``texts`` are in ``_TEXTS`` order."""
    event_id, account, outcome_type, channel, workflow, session_id, verification, complexity, failure, url = texts
    canonical = "\x1f".join(
        (
            event_id,
            account,
            outcome_type,
            occurred_at_iso,
            str(success),
            str(handoff),
            channel,
            workflow,
            session_id,
            complexity,
            verification,
            url,
            str(sandbox),
            failure,
            _hashed(value_amount),
            _hashed(cost_amount),
        )
    ).encode()
    return hashlib.blake2b(canonical + b"\x1e" + attributes_json, digest_size=16).hexdigest()


def _attributes(attributes: object, errors: dict[str, list[str]]) -> tuple[dict, bytes]:
    """The ``attributes`` object and its canonical JSON (sorted keys), or {} with its error."""
    if not isinstance(attributes, dict):
        errors["attributes"] = ["Must be a JSON object."]
        return {}, b"{}"
    try:
        attributes_json = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # nested deeper than orjson serialises (a 500 before)
        errors["attributes"] = ["Nested too deeply."]
        return {}, b"{}"
    if len(attributes_json) > MAX_ATTRIBUTES_BYTES:
        errors["attributes"] = [f"At most {MAX_ATTRIBUTES_BYTES} bytes of JSON."]
    elif b"\\u0000" in attributes_json:
        errors["attributes"] = ["May not contain NUL characters (PostgreSQL cannot store them)."]
    return attributes, attributes_json


def _invalid(occurred_raw: object, occurred_at: datetime | None, errors: dict[str, list[str]]) -> EventError:
    """The validation error of an event with bad fields (``occurred_at`` among them, or not)."""
    if occurred_raw is None:
        errors["occurred_at"] = ["This field is required."]
    elif occurred_at is None:
        errors["occurred_at"] = [_RFC3339_ERROR]
    return EventError("validation_error", "The event has invalid fields.", _in_field_order(errors))


def _out_of_range(occurred_at: datetime, *, now: datetime, late_window: timedelta) -> EventError:
    if occurred_at > now:
        return EventError(
            "timestamp_out_of_range",
            "occurred_at is more than 5 minutes in the future.",
            {"occurred_at": ["More than 5 minutes in the future."]},
        )
    return EventError(
        "timestamp_out_of_range",
        f"occurred_at is older than the late-event window ({late_window.days} days).",
        {"occurred_at": [f"Older than {late_window.days} days."]},
    )
