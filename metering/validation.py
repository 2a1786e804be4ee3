"""Validation of posted outcome events: plain Python, one pass per event, no framework.

The ingestion hot path validates up to 1,000 events per request; a generic serializer
per event would cost more than the database insert itself (see bench/README.md). The
rules are exactly those of api-v1.md; every failure names its field.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import orjson

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
_MAX_DECIMAL = Decimal("1e12")


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


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})\Z")


def parse_timestamp(value: object) -> datetime | None:
    """An RFC 3339 timestamp with an offset, as an aware UTC datetime; None if it is not one."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 is past the year 9999 in UTC
        return None


# At most 12 integer digits and 6 decimal places, plain ASCII: finite, below 10^12, exponent ≥ -6 —
# valid by construction, so the common case skips the checks below (``as_tuple`` is the costly one).
_PLAIN_DECIMAL = re.compile(r"[+-]?[0-9]{1,12}(?:\.[0-9]{0,6})?\Z")


def _decimal(value: object) -> Decimal | None:
    if not isinstance(value, str):
        raise ValueError('Must be a decimal string such as "12.50".')
    if _PLAIN_DECIMAL.match(value):
        return Decimal(value)
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError('Must be a decimal string such as "12.50".') from exc
    if not amount.is_finite() or abs(amount) >= _MAX_DECIMAL:
        raise ValueError("Must be a finite decimal below 10^12.")
    if amount.as_tuple().exponent < -6:
        raise ValueError("At most 6 decimal places.")
    return amount


_HTTP_URL = re.compile(r"https?://(?:[^\s/?#@\[\]]+|\[[0-9a-f:.]+\](?::\d+)?)(?:[/?#]\S*)?\Z", re.IGNORECASE)


def _is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host (a regular expression: cheaper than urlsplit, never raises)."""
    return _HTTP_URL.match(url) is not None


def _normal(amount: Decimal | None) -> Decimal | None:
    """ "0.99" and "0.990" are the same payload."""
    return None if amount is None else amount.normalize()


def _text(raw: dict, name: str, limit: int, errors: dict, required: bool = False) -> str:
    value = raw.get(name)
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


def _bool(raw: dict, name: str, errors: dict, default: bool | None = None) -> bool:
    value = raw.get(name, default)
    if value is None:
        errors[name] = ["This field is required."]
        return False
    if not isinstance(value, bool):
        errors[name] = ["Must be true or false."]
        return False
    return value


def event_parse(raw: object, *, now: datetime, late_window: timedelta, future_tolerance: timedelta):
    """Return a :class:`ParsedEvent`, or an :class:`EventError` naming every bad field."""
    if not isinstance(raw, dict):
        return EventError("invalid_event", "Each event must be a JSON object.", {})
    errors: dict[str, list[str]] = {}
    event_id = _text(raw, "event_id", 128, errors, required=True)
    account = _text(raw, "account", 128, errors, required=True)
    outcome_type = _text(raw, "outcome_type", 64, errors, required=True)
    success = _bool(raw, "success_criteria_met", errors)
    handoff = _bool(raw, "human_handoff", errors, default=False)
    sandbox = _bool(raw, "sandbox", errors, default=False)
    channel = _text(raw, "channel", 64, errors)
    workflow = _text(raw, "workflow", 128, errors)
    session_id = _text(raw, "session_id", 128, errors)
    verification = _text(raw, "verification_method", 64, errors)
    complexity = _text(raw, "complexity", 16, errors)
    if complexity and complexity not in COMPLEXITIES:
        errors["complexity"] = ["Must be one of simple, moderate, complex."]
    failure_reason = _text(raw, "failure_reason", 32, errors)
    if failure_reason and failure_reason not in FAILURE_REASONS:
        errors["failure_reason"] = [f"Must be one of {', '.join(sorted(FAILURE_REASONS))}."]
    source_url = _text(raw, "source_url", 2048, errors)
    if source_url and "source_url" not in errors and not _is_http_url(source_url):
        errors["source_url"] = ["Must be an http(s) URL."]
    value_amount = cost_amount = None
    for name in ("value_amount", "cost_amount"):
        if raw.get(name) is not None:
            try:
                amount = _decimal(raw[name])
            except ValueError as exc:
                errors[name] = [str(exc)]
            else:
                if name == "value_amount":
                    value_amount = amount
                else:
                    cost_amount = amount
    attributes = raw.get("attributes")
    attributes_json = b"{}"
    if attributes is None:
        attributes = {}
    elif not isinstance(attributes, dict):
        errors["attributes"] = ["Must be a JSON object."]
        attributes = {}
    else:
        try:
            attributes_json = orjson.dumps(attributes, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # nested deeper than orjson serialises (a 500 before)
            errors["attributes"] = ["Nested too deeply."]
            attributes = {}
        else:
            if len(attributes_json) > MAX_ATTRIBUTES_BYTES:
                errors["attributes"] = [f"At most {MAX_ATTRIBUTES_BYTES} bytes of JSON."]
            elif b"\\u0000" in attributes_json:
                errors["attributes"] = ["May not contain NUL characters (PostgreSQL cannot store them)."]
    if not raw.keys() <= KNOWN_FIELDS:
        for name in sorted(raw.keys() - KNOWN_FIELDS):
            errors[name] = ["Unknown field."]

    occurred_raw = raw.get("occurred_at")
    occurred_at = parse_timestamp(occurred_raw)
    if occurred_raw is None:
        errors["occurred_at"] = ["This field is required."]
    elif occurred_at is None:
        errors["occurred_at"] = ["Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."]
    elif errors:
        pass
    elif occurred_at > now + future_tolerance:
        return EventError(
            "timestamp_out_of_range",
            "occurred_at is more than 5 minutes in the future.",
            {"occurred_at": ["More than 5 minutes in the future."]},
        )
    elif occurred_at < now - late_window:
        return EventError(
            "timestamp_out_of_range",
            f"occurred_at is older than the late-event window ({late_window.days} days).",
            {"occurred_at": [f"Older than {late_window.days} days."]},
        )
    if errors:
        return EventError("validation_error", "The event has invalid fields.", errors)

    occurred_at_iso = occurred_at.isoformat()
    # The payload's values as text, joined by a unit separator (str() of the booleans and amounts).
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
            source_url,
            str(sandbox),
            failure_reason,
            str(_normal(value_amount)),
            str(_normal(cost_amount)),
        )
    ).encode()
    digest = hashlib.blake2b(canonical + b"\x1e" + attributes_json, digest_size=16)
    return ParsedEvent(
        event_id=event_id,
        account=account,
        outcome_type=outcome_type,
        occurred_at=occurred_at,
        success_criteria_met=success,
        human_handoff=handoff,
        channel=channel,
        workflow=workflow,
        session_id=session_id,
        complexity=complexity,
        verification_method=verification,
        source_url=source_url,
        sandbox=sandbox,
        failure_reason=failure_reason,
        value_amount=value_amount,
        cost_amount=cost_amount,
        attributes=attributes,
        attributes_json=attributes_json,
        payload_hash=digest.hexdigest(),
        occurred_at_iso=occurred_at_iso,
    )
