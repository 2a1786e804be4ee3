"""Validation of posted events: every field rule of the contract's event table, and the payload hash."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings

from metering.validation import MAX_ATTRIBUTES_BYTES, EventError, ParsedEvent, event_parse, parse_timestamp
from tests import factories
from tests.metering.helpers import valid

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LATE = timedelta(days=35)
FUTURE = timedelta(minutes=5)
RFC3339 = "Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."
DECIMAL = 'Must be a decimal string such as "12.50".'


def parse(raw, now=NOW):
    return event_parse(raw, now=now, late_window=LATE, future_tolerance=FUTURE)


def field_errors(raw) -> dict:
    result = parse(raw)
    assert isinstance(result, EventError), result
    assert (result.code, result.message) == ("validation_error", "The event has invalid fields.")
    return result.fields


def test_the_minimal_event_is_valid_with_the_contract_defaults():
    parsed = parse(valid())

    assert isinstance(parsed, ParsedEvent)
    assert parsed.occurred_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert (parsed.human_handoff, parsed.sandbox) == (False, False)
    assert (parsed.channel, parsed.workflow, parsed.session_id, parsed.complexity) == ("", "", "", "")
    assert (parsed.failure_reason, parsed.verification_method, parsed.source_url) == ("", "", "")
    assert (parsed.value_amount, parsed.cost_amount, parsed.attributes) == (None, None, {})


def test_a_full_event_is_valid():
    parsed = parse(
        valid(
            human_handoff=False,
            channel="chat",
            workflow="support.refund",
            session_id="sess-9",
            complexity="complex",
            verification_method="customer_confirmed",
            source_url="https://helpdesk.example.com/tickets/9?tab=log",
            sandbox=False,
            failure_reason="no_show",
            value_amount="120.50",
            cost_amount="0.450000",
            attributes={"agent": "v2", "turns": 7},
        )
    )
    assert isinstance(parsed, ParsedEvent)
    assert (parsed.complexity, parsed.failure_reason) == ("complex", "no_show")
    assert (str(parsed.value_amount), str(parsed.cost_amount)) == ("120.50", "0.450000")
    assert parsed.attributes == {"agent": "v2", "turns": 7}


@pytest.mark.parametrize("name", ["event_id", "account", "outcome_type", "occurred_at", "success_criteria_met"])
def test_required_fields(name):
    raw = valid()
    del raw[name]
    assert field_errors(raw) == {name: ["This field is required."]}


@pytest.mark.parametrize("name", ["event_id", "account", "outcome_type", "success_criteria_met", "occurred_at"])
def test_required_fields_may_not_be_null(name):
    assert list(field_errors(valid(**{name: None}))) == [name]


@pytest.mark.parametrize("name", ["event_id", "account", "outcome_type"])
def test_required_strings_may_not_be_empty(name):
    assert field_errors(valid(**{name: ""})) == {name: ["May not be empty."]}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("event_id", 123, "Must be a string."),
        ("account", ["acme"], "Must be a string."),
        ("outcome_type", {"code": "x"}, "Must be a string."),
        ("channel", 5, "Must be a string."),
        ("workflow", True, "Must be a string."),
        ("session_id", 42, "Must be a string."),
        ("verification_method", 1.5, "Must be a string."),
        ("source_url", 7, "Must be a string."),
        ("complexity", 2, "Must be a string."),
        ("failure_reason", False, "Must be a string."),
        ("success_criteria_met", "true", "Must be true or false."),
        ("success_criteria_met", 1, "Must be true or false."),
        ("human_handoff", "false", "Must be true or false."),
        ("human_handoff", 0, "Must be true or false."),
        ("sandbox", "yes", "Must be true or false."),
        ("attributes", ["a", "b"], "Must be a JSON object."),
        ("attributes", "{}", "Must be a JSON object."),
        ("occurred_at", 1_763_640_000, RFC3339),
        ("occurred_at", "2026-11-20T10:00:00", RFC3339),  # no offset
        ("occurred_at", "2026-11-20", RFC3339),
        ("occurred_at", "20/11/2026 10:00", RFC3339),
        ("occurred_at", "2026-11-20T25:00:00Z", RFC3339),
        ("occurred_at", "yesterday afternoon, UTC", RFC3339),
    ],
)
def test_types(name, value, message):
    assert field_errors(valid(**{name: value})) == {name: [message]}


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("event_id", 128),
        ("channel", 64),
        ("workflow", 128),
        ("session_id", 128),
        ("verification_method", 64),
    ],
)
def test_max_lengths(name, limit):
    assert isinstance(parse(valid(**{name: "x" * limit})), ParsedEvent)
    assert field_errors(valid(**{name: "x" * (limit + 1)})) == {name: [f"At most {limit} characters."]}


def test_source_url_max_length_is_2048():
    base = "https://crm.example.com/"
    assert isinstance(parse(valid(source_url=base + "a" * (2048 - len(base)))), ParsedEvent)
    assert field_errors(valid(source_url=base + "a" * (2049 - len(base)))) == {
        "source_url": ["At most 2048 characters."]
    }


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example.com/ticket.txt",
        "javascript:alert(1)",
        "mailto:support@example.com",
        "crm.example.com/tickets/1",
        "http://",
        "https:///path-only",
        "file:///etc/passwd",
    ],
)
def test_source_url_must_be_http_or_https(url):
    assert field_errors(valid(source_url=url)) == {"source_url": ["Must be an http(s) URL."]}


@pytest.mark.parametrize("url", ["http://crm.example.com/t/1", "https://crm.example.com:8443/t/1#log"])
def test_http_and_https_urls_are_accepted(url):
    assert parse(valid(source_url=url)).source_url == url


@pytest.mark.parametrize("value", ["simple", "moderate", "complex"])
def test_complexity_enum_accepts_its_words(value):
    assert parse(valid(complexity=value)).complexity == value


@pytest.mark.parametrize("value", ["hard", "Simple", "COMPLEX", "very complex"])
def test_complexity_enum_refuses_other_words(value):
    assert field_errors(valid(complexity=value)) == {"complexity": ["Must be one of simple, moderate, complex."]}


@pytest.mark.parametrize("value", ["abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show"])
def test_failure_reason_enum_accepts_its_words(value):
    assert parse(valid(failure_reason=value)).failure_reason == value


@pytest.mark.parametrize("value", ["crashed", "human_handoff", "sandbox", "Abandoned"])
def test_failure_reason_enum_refuses_other_words(value):
    assert field_errors(valid(failure_reason=value)) == {
        "failure_reason": ["Must be one of abandoned, greeting_only, no_show, unanswered_question, workflow_failed."]
    }


def _attributes_of_size(size: int) -> dict:
    attributes = {"k": "x" * (size - len('{"k":""}'))}
    return attributes


def test_attributes_up_to_8_kb():
    exactly = _attributes_of_size(MAX_ATTRIBUTES_BYTES)
    assert MAX_ATTRIBUTES_BYTES == 8192
    assert parse(valid(attributes=exactly)).attributes == exactly
    assert field_errors(valid(attributes=_attributes_of_size(MAX_ATTRIBUTES_BYTES + 1))) == {
        "attributes": ["At most 8192 bytes of JSON."]
    }


def test_attributes_are_measured_in_bytes_not_characters():
    # 2,731 three-byte characters: 2,731 characters but 8,193 bytes of JSON with the key.
    attributes = {"k": "€" * 2729}
    assert len('{"k":""}') + 3 * 2729 == 8195
    assert field_errors(valid(attributes=attributes)) == {"attributes": ["At most 8192 bytes of JSON."]}


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_deeply_nested_attributes_are_refused_not_a_server_error():
    # 300 levels is ~1.8 KB of JSON, inside the size limit, but deeper than orjson serialises.
    assert isinstance(parse(valid(attributes=_nested(200))), ParsedEvent)
    assert field_errors(valid(attributes=_nested(300))) == {"attributes": ["Nested too deeply."]}


@pytest.mark.parametrize("name", ["value_amount", "cost_amount"])
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0.99, DECIMAL),
        (1, DECIMAL),
        ("abc", DECIMAL),
        ("1,50", DECIMAL),
        ("", DECIMAL),
        ("NaN", "Must be a finite decimal below 10^12."),
        ("Infinity", "Must be a finite decimal below 10^12."),
        ("1e12", "Must be a finite decimal below 10^12."),
        ("0.1234567", "At most 6 decimal places."),
        # Decimal() alone takes all of these; an amount is plain unsigned digits and nothing else.
        ("-0.01", "Must not be negative."),
        ("-120.50", "Must not be negative."),
        (" 1", DECIMAL),
        ("1 ", DECIMAL),
        ("\t1", DECIMAL),
        ("1_000", DECIMAL),
        ("+1", DECIMAL),
        ("1e3", DECIMAL),
        ("1.", DECIMAL),
        (".5", DECIMAL),
        ("-0", DECIMAL),
        ("\u0661", DECIMAL),  # an Arabic-Indic digit one
    ],
)
def test_decimal_strings(name, value, message):
    assert field_errors(valid(**{name: value})) == {name: [message]}


@pytest.mark.parametrize("name", ["value_amount", "cost_amount"])
@pytest.mark.parametrize("value", ["0", "0.99", "12.50", "0.000001", "999999999999.999999"])
def test_decimal_strings_accepted(name, value):
    assert str(getattr(parse(valid(**{name: value})), name)) == value


def test_unknown_fields_are_named():
    assert field_errors(valid(colour="red", Event_ID="x")) == {
        "Event_ID": ["Unknown field."],
        "colour": ["Unknown field."],
    }


@pytest.mark.parametrize("name", ["event_id", "channel", "workflow", "session_id"])
def test_nul_characters_are_refused(name):
    assert field_errors(valid(**{name: "a\x00b"})) == {name: ["May not contain NUL characters."]}


def test_every_bad_field_is_named_at_once():
    assert field_errors(valid(event_id=7, channel="c" * 65, complexity="hard", colour="red")) == {
        "event_id": ["Must be a string."],
        "channel": ["At most 64 characters."],
        "complexity": ["Must be one of simple, moderate, complex."],
        "colour": ["Unknown field."],
    }


@pytest.mark.parametrize("raw", [[], "evt-1", 42, None])
def test_an_event_must_be_an_object(raw):
    assert parse(raw) == EventError("invalid_event", "Each event must be a JSON object.", {})


# --- occurred_at: the time range -----------------------------------------------------------


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    "at",
    [
        NOW + FUTURE,  # exactly 5 minutes ahead: tolerated (clock skew)
        NOW,
        NOW - LATE,  # exactly at the late-event window's edge
    ],
)
def test_occurred_at_inside_the_range(at):
    assert parse(valid(occurred_at=_stamp(at))).occurred_at == at


def test_occurred_at_more_than_5_minutes_ahead_is_out_of_range():
    result = parse(valid(occurred_at=_stamp(NOW + FUTURE + timedelta(seconds=1))))
    assert result == EventError(
        "timestamp_out_of_range",
        "occurred_at is more than 5 minutes in the future.",
        {"occurred_at": ["More than 5 minutes in the future."]},
    )


def test_occurred_at_older_than_the_late_event_window_is_out_of_range():
    result = parse(valid(occurred_at=_stamp(NOW - LATE - timedelta(seconds=1))))
    assert result == EventError(
        "timestamp_out_of_range",
        "occurred_at is older than the late-event window (35 days).",
        {"occurred_at": ["Older than 35 days."]},
    )


def test_the_offset_is_taken_into_account_for_the_range():
    # 12:04 UTC written as 13:04+01:00 is inside; 12:06 UTC written as 07:06-05:00 is not.
    assert isinstance(parse(valid(occurred_at="2026-11-20T13:04:00+01:00")), ParsedEvent)
    assert parse(valid(occurred_at="2026-11-20T07:06:00-05:00")).code == "timestamp_out_of_range"


def test_the_late_event_window_is_35_days_by_default():
    assert settings.LATE_EVENT_WINDOW_DAYS == 35


@pytest.mark.django_db
def test_ingestion_applies_the_late_event_window_setting(settings, account_a, outcome_type):
    settings.LATE_EVENT_WINDOW_DAYS = 10
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    inside = factories.event_payload(account_a, "evt-inside", occurred_at=now - timedelta(days=10))
    outside = factories.event_payload(account_a, "evt-outside", occurred_at=now - timedelta(days=10, seconds=1))

    result = factories.ingest(inside, outside, now=now)

    assert [r["status"] for r in result.results] == ["accepted", "rejected"]
    assert result.results[1]["error"] == {
        "code": "timestamp_out_of_range",
        "message": "occurred_at is older than the late-event window (10 days).",
        "fields": {"occurred_at": ["Older than 10 days."]},
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20t10:00:00Z", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20 10:00:00+00:00", datetime(2026, 11, 20, 10, tzinfo=UTC)),
        ("2026-11-20T11:30:00.250+01:30", datetime(2026, 11, 20, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-20T10:00:00", None),
        ("2026-11-20T10:00Z", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_timestamp(text, expected):
    parsed = parse_timestamp(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


# --- The payload hash: duplicates and conflicts --------------------------------------------


def payload_hash(**changes) -> str:
    parsed = parse(valid(**changes))
    assert isinstance(parsed, ParsedEvent), parsed
    return parsed.payload_hash


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"value_amount": "0.99"}, {"value_amount": "0.990"}),
        ({"value_amount": "10"}, {"value_amount": "10.000000"}),
        ({"cost_amount": "0.45"}, {"cost_amount": "0.450000"}),
        ({"occurred_at": "2026-11-20T10:00:00Z"}, {"occurred_at": "2026-11-20T10:00:00+00:00"}),
        ({"occurred_at": "2026-11-20T10:00:00Z"}, {"occurred_at": "2026-11-20T11:00:00+01:00"}),
        ({"occurred_at": "2026-11-20T10:00:00Z"}, {"occurred_at": "2026-11-20T10:00:00.000000Z"}),
        ({}, {"human_handoff": False, "sandbox": False}),
        ({}, {"channel": None, "attributes": None}),
        ({}, {"channel": "", "workflow": "", "session_id": ""}),
        ({}, {"attributes": {}}),
        ({"attributes": {"a": 1, "b": [1, 2]}}, {"attributes": {"b": [1, 2], "a": 1}}),
    ],
)
def test_equivalent_payloads_have_the_same_hash(left, right):
    assert payload_hash(**left) == payload_hash(**right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"value_amount": "0.99"}, {"value_amount": "0.98"}),
        ({"value_amount": "0.99"}, {"cost_amount": "0.99"}),
        ({}, {"value_amount": "0"}),
        ({"success_criteria_met": True}, {"success_criteria_met": False}),
        ({}, {"human_handoff": True}),
        ({}, {"sandbox": True}),
        ({"channel": "chat"}, {"channel": "Chat"}),
        ({"channel": "chat"}, {"workflow": "chat"}),  # same text in another field
        ({"occurred_at": "2026-11-20T10:00:00Z"}, {"occurred_at": "2026-11-20T10:00:00.000001Z"}),
        ({"attributes": {"a": 1}}, {"attributes": {"a": "1"}}),
        ({"account": "acme"}, {"account": "globex"}),
        ({"outcome_type": "resolved_conversation"}, {"outcome_type": "qualified_lead"}),
        ({"failure_reason": "no_show"}, {"failure_reason": "abandoned"}),
        ({"complexity": "simple"}, {"complexity": "complex"}),
        ({"source_url": "https://a.example/1"}, {"source_url": "https://a.example/2"}),
        ({"verification_method": "crm_accepted"}, {}),
    ],
)
def test_different_payloads_have_different_hashes(left, right):
    assert payload_hash(**left) != payload_hash(**right)


def test_the_hash_is_stable_across_calls():
    assert payload_hash(value_amount="1.5") == payload_hash(value_amount="1.5")
    assert len(payload_hash()) == 32
