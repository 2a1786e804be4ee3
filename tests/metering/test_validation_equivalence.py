"""Properties of event validation over generated events (test_validation.py has the examples).

Well-formed events keep their values, and their payload hash is the stored format's (re-posts of
events stored long ago must still match); every defect is reported under its field, with the
contract's message, in a fixed order.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metering.validation import KNOWN_FIELDS, EventError, ParsedEvent, event_parse, parse_timestamp
from tests.metering.helpers import valid

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LATE = timedelta(days=35)
FUTURE = timedelta(minutes=5)
TEXT_LIMITS = {
    "event_id": 128,
    "account": 128,
    "outcome_type": 64,
    "channel": 64,
    "workflow": 128,
    "session_id": 128,
    "verification_method": 64,
    "complexity": 16,
    "failure_reason": 32,
    "source_url": 2048,
}
REQUIRED_TEXTS = ("event_id", "account", "outcome_type")
FREE_TEXTS = ("channel", "workflow", "session_id", "verification_method")  # no rule but length and NUL
COMPLEXITIES = ["simple", "moderate", "complex"]
FAILURE_REASONS = ["abandoned", "workflow_failed", "greeting_only", "unanswered_question", "no_show"]
# The order errors are listed in: these fields, then unknown fields (sorted), then occurred_at.
ERROR_ORDER = [
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
]

REQUIRED = "This field is required."
STRING = "Must be a string."
EMPTY = "May not be empty."
NUL = "May not contain NUL characters."
BOOL = "Must be true or false."
RFC3339 = "Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."
DECIMAL = 'Must be a decimal string such as "12.50".'
FINITE = "Must be a finite decimal below 10^12."
PLACES = "At most 6 decimal places."
NEGATIVE = "Must not be negative."
URL = "Must be an http(s) URL."
COMPLEXITY = "Must be one of simple, moderate, complex."
FAILURE_REASON = "Must be one of abandoned, greeting_only, no_show, unanswered_question, workflow_failed."
MISSING = object()  # a defect that removes the field


def parse(raw, now=NOW, late=LATE, future=FUTURE):
    return event_parse(raw, now=now, late_window=late, future_tolerance=future)


def stored_hash(parsed: ParsedEvent) -> str:
    """The payload hash in the stored format: the values as text, joined by unit separators, then the attributes."""
    amounts = ["None" if a is None else str(a.normalize()) for a in (parsed.value_amount, parsed.cost_amount)]
    values = [
        parsed.event_id,
        parsed.account,
        parsed.outcome_type,
        parsed.occurred_at.isoformat(),
        str(parsed.success_criteria_met),
        str(parsed.human_handoff),
        parsed.channel,
        parsed.workflow,
        parsed.session_id,
        parsed.complexity,
        parsed.verification_method,
        parsed.source_url,
        str(parsed.sandbox),
        parsed.failure_reason,
        *amounts,
    ]
    attributes = orjson.dumps(parsed.attributes, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b("\x1f".join(values).encode() + b"\x1e" + attributes, digest_size=16).hexdigest()


# --- Strategies -----------------------------------------------------------------------------

# Any character but NUL and lone surrogates (which JSON cannot carry).
_chars = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))


def texts(limit: int, min_size: int = 0):
    """Texts within the limit, the limit itself included."""
    return st.text(_chars, min_size=min_size, max_size=min(limit, 40)) | st.just("x" * limit)


# No whitespace (Zs, Zl, Zp and the Cc control characters are everything \s matches).
_url_chars = st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))
urls = st.builds(
    lambda scheme, host, rest: f"{scheme}://{host}{rest}",
    st.sampled_from(["http", "https", "HTTPS", "Http"]),
    st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z0-9-]{1,10}){0,3}(:[0-9]{1,5})?", fullmatch=True)
    | st.just("[2001:db8::1]:8443"),
    st.just("") | st.tuples(st.sampled_from("/?#"), st.text(_url_chars, max_size=40)).map("".join),
)
plain_amounts = st.builds(
    lambda sign, whole, places: f"{sign}{whole}" + (f".{places}" if places is not None else ""),
    st.just(""),
    st.integers(0, 10**12 - 1),
    st.none() | st.text("0123456789", min_size=1, max_size=6),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_chars, max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(_chars, max_size=5), inner, max_size=3),
    max_leaves=8,
)
attributes = st.dictionaries(st.text(_chars, max_size=8), json_values, max_size=5)
offsets = st.sampled_from([0, 0, 60, -300, 330, 345, 840, -720]).map(lambda m: timedelta(minutes=m))


@st.composite
def timestamps(draw, earliest=-LATE, latest=FUTURE):
    """(text, instant): an RFC 3339 timestamp for an instant around NOW, in any offset, with any fraction."""
    seconds = draw(st.integers(int(earliest.total_seconds()), int(latest.total_seconds()) - 1))
    at = NOW + timedelta(seconds=seconds, microseconds=draw(st.integers(0, 999_999)))
    offset = draw(offsets)
    local = at.astimezone(timezone(offset))
    digits = draw(st.integers(0, 9))  # digits past the sixth are read and dropped
    fraction = (f"{at.microsecond:06d}" + draw(st.text("0123456789", min_size=3, max_size=3)))[:digits]
    written_us = int(fraction[:6].ljust(6, "0")) if digits else 0
    if offset:
        minutes = int(offset.total_seconds()) // 60
        zone = f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    else:
        zone = draw(st.sampled_from(["Z", "z", "+00:00", "-00:00"]))
    separator = draw(st.sampled_from("TTt "))
    text = local.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + (f".{fraction}" if digits else "") + zone
    return text, at.replace(microsecond=written_us)


@st.composite
def well_formed(draw):
    """(event, the instant of its occurred_at): a valid event, its optional fields present or not."""
    occurred_text, occurred_at = draw(timestamps())
    event = {
        "event_id": draw(texts(128, min_size=1)),
        "account": draw(texts(128, min_size=1)),
        "outcome_type": draw(texts(64, min_size=1)),
        "occurred_at": occurred_text,
        "success_criteria_met": draw(st.booleans()),
    }
    optional = {
        "human_handoff": st.booleans(),
        "sandbox": st.booleans(),
        "channel": texts(64),
        "workflow": texts(128),
        "session_id": texts(128),
        "verification_method": texts(64),
        "complexity": st.sampled_from(COMPLEXITIES),
        "failure_reason": st.sampled_from(FAILURE_REASONS),
        "source_url": urls,
        "value_amount": plain_amounts,
        "cost_amount": plain_amounts,
        "attributes": attributes,
    }
    for name in draw(st.sets(st.sampled_from(sorted(optional)))):
        nullable = name not in ("human_handoff", "sandbox")  # null is the same as absent, but for a flag
        event[name] = draw(optional[name] | st.none()) if nullable else draw(optional[name])
    return event, occurred_at


# (field, value, message): one defect of one field, and how it is reported.
not_strings = st.sampled_from([0, 7, -1, 1.5, True, False, [], ["x"], {}, {"a": 1}])
not_bools = st.sampled_from([0, 1, 1.0, "true", "false", "", [], {}])


short = st.text(_chars, max_size=10)  # shorter than half of any limit


def text_defects(name: str):
    limit = TEXT_LIMITS[name]
    overlong = st.integers(limit + 1, limit + 50).map(lambda n: "y" * n)
    defects = [
        st.tuples(st.just(name), not_strings, st.just(STRING)),
        st.tuples(st.just(name), st.tuples(short, short).map("\x00".join), st.just(NUL)),
        st.tuples(st.just(name), overlong, st.just(f"At most {limit} characters.")),
        st.tuples(st.just(name), overlong.map(lambda s: s + "\x00"), st.just(f"At most {limit} characters.")),
    ]
    if name in REQUIRED_TEXTS:
        defects += [
            st.tuples(st.just(name), st.just(""), st.just(EMPTY)),
            st.tuples(st.just(name), st.sampled_from([None, MISSING]), st.just(REQUIRED)),
        ]
    return st.one_of(defects)


def choice_defects(name: str, words: list[str], message: str):
    # Any other string, even an overlong one or one with NUL: the list of words is what is reported.
    others = st.text(_chars, min_size=1, max_size=40) | short.map(lambda s: s + "\x00")
    return st.tuples(st.just(name), others.filter(lambda s: s not in words), st.just(message))


amount_defects = st.tuples(
    st.sampled_from(["value_amount", "cost_amount"]),
    st.one_of(
        st.tuples(st.sampled_from([1, 0, 0.99, 12.5, True, [], {"a": "1"}]), st.just(DECIMAL)),
        st.tuples(
            st.sampled_from(["", "abc", "1,50", "0x10", "1.2.3", "12 50", "--1", " 1", "1_0", "+1", "1e3", "-0"]),
            st.just(DECIMAL),
        ),
        st.tuples(st.sampled_from(["-1", "-0.5", "-999999999999.999999", "-0.0000001"]), st.just(NEGATIVE)),
        st.tuples(
            st.sampled_from(["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "1e12", "-1e12", "1000000000000"]),
            st.just(FINITE),
        ),
        st.builds(lambda n: (str(Decimal(10) ** 12 + n), FINITE), st.integers(0, 10**20)),
        st.tuples(st.sampled_from(["0.1234567", "1E-7", "0.1230000", "5e-9"]), st.just(PLACES)),
        st.builds(lambda n, k: (f"0.{n:0{k}d}", PLACES), st.integers(1, 10**9), st.integers(9, 12)),
    ),
).map(lambda t: (t[0], t[1][0], t[1][1]))

timestamp_defects = st.tuples(
    st.just("occurred_at"),
    st.one_of(
        st.tuples(st.sampled_from([None, MISSING]), st.just(REQUIRED)),
        st.tuples(
            st.one_of(
                st.datetimes(min_value=datetime(2026, 10, 20), max_value=datetime(2026, 11, 20)).map(
                    lambda d: d.isoformat()  # naive: no offset
                ),
                st.sampled_from(
                    [
                        "2026-11-20",
                        "2026-11-20T10:00Z",
                        "2026-11-20T10:00:00+0100",
                        "2026-11-20T10:00:00,5Z",
                        "20261120T100000Z",
                        "2026-W47-5T10:00:00Z",
                        "2026-11-20T25:00:00Z",
                        "2026-02-30T10:00:00Z",
                        "٢٠٢٦-11-20T10:00:00Z",
                        "2026-11-20T10:00:00.Z",
                        "1763640000",
                    ]
                ),
                st.sampled_from([1_763_640_000, 1.5, True, [], {}]),
            ),
            st.just(RFC3339),
        ),
    ),
).map(lambda t: (t[0], t[1][0], t[1][1]))

defects = st.one_of(
    *[text_defects(name) for name in TEXT_LIMITS if name not in ("complexity", "failure_reason", "source_url")],
    st.tuples(st.sampled_from(["complexity", "failure_reason", "source_url"]), not_strings, st.just(STRING)),
    choice_defects("complexity", COMPLEXITIES, COMPLEXITY),
    choice_defects("failure_reason", FAILURE_REASONS, FAILURE_REASON),
    st.tuples(
        st.just("source_url"),
        st.sampled_from(
            ["ftp://x.example/a", "javascript:alert(1)", "example.com/a", "http://", "https:///p", "http://a b"]
        )
        | urls.map(lambda u: u + " tail"),
        st.just(URL),
    ),
    st.tuples(st.just("source_url"), urls.map(lambda u: u + "/" + "z" * 2048), st.just("At most 2048 characters.")),
    st.tuples(st.just("source_url"), urls.map(lambda u: u + "\x00"), st.just(NUL)),
    st.tuples(st.just("success_criteria_met"), st.sampled_from([None, MISSING]), st.just(REQUIRED)),
    st.tuples(st.just("human_handoff"), st.just(None), st.just(REQUIRED)),  # null is not the default
    st.tuples(st.sampled_from(["success_criteria_met", "human_handoff", "sandbox"]), not_bools, st.just(BOOL)),
    amount_defects,
    st.tuples(st.just("attributes"), st.sampled_from([[], ["a"], "{}", 1, True]), st.just("Must be a JSON object.")),
    st.tuples(st.just("attributes"), st.just({"k": "x" * 8185}), st.just("At most 8192 bytes of JSON.")),
    st.tuples(
        st.just("attributes"),
        st.sampled_from([{"k": "a\x00b"}, {"a\x00": 1}, {"k": ["\x00"]}]),
        st.just("May not contain NUL characters (PostgreSQL cannot store them)."),
    ),
    timestamp_defects,
    st.tuples(
        st.text(_chars, min_size=1, max_size=12).filter(lambda n: n not in KNOWN_FIELDS),
        st.just(1),
        st.just("Unknown field."),
    ),
)


def with_defects(event: dict, chosen) -> dict:
    for name, value, _ in chosen:
        if value is MISSING:
            event.pop(name, None)
        else:
            event[name] = value
    return event


# --- Properties ----------------------------------------------------------------------------


@settings(deadline=None)
@given(well_formed())
def test_a_well_formed_event_keeps_its_values(case):
    event, occurred_at = case
    parsed = parse(event)

    assert isinstance(parsed, ParsedEvent), parsed
    for name in TEXT_LIMITS:
        assert getattr(parsed, name) == (event.get(name) or "")
    assert parsed.success_criteria_met is event["success_criteria_met"]
    assert parsed.human_handoff is bool(event.get("human_handoff"))
    assert parsed.sandbox is bool(event.get("sandbox"))
    for name in ("value_amount", "cost_amount"):
        amount = getattr(parsed, name)
        if event.get(name) is None:
            assert amount is None
        else:  # the very Decimal written: "120.50" stays "120.50"
            assert amount.as_tuple() == Decimal(event[name]).as_tuple()
    assert parsed.attributes == (event.get("attributes") or {})
    assert parsed.attributes_json == orjson.dumps(parsed.attributes, option=orjson.OPT_SORT_KEYS)
    assert parsed.occurred_at == occurred_at
    assert parsed.occurred_at.tzinfo is UTC
    assert parsed.occurred_at_iso == occurred_at.isoformat()
    assert parsed.payload_hash == stored_hash(parsed)
    assert parse(event).payload_hash == parsed.payload_hash  # stable


@settings(deadline=None)
@given(well_formed(), st.integers(0, 6), offsets, st.randoms(use_true_random=False))
def test_the_payload_hash_ignores_how_the_same_values_are_written(case, zeros, offset, random):
    event, occurred_at = case
    rewritten = dict(event)
    for name in ("value_amount", "cost_amount"):
        amount = event.get(name)
        if amount is not None:
            places = len(amount.partition(".")[2])
            padding = "0" * min(zeros, 6 - places)
            if padding:  # "12" and "12.000" are the same amount ("12." is not an amount at all)
                rewritten[name] = amount + padding if "." in amount else f"{amount}.{padding}"
    local = occurred_at.astimezone(timezone(offset))
    rewritten["occurred_at"] = local.isoformat().replace("+00:00", random.choice(["Z", "+00:00", "-00:00"]))
    if isinstance(event.get("attributes"), dict):
        items = list(event["attributes"].items())
        random.shuffle(items)
        rewritten["attributes"] = dict(items)
    for name, written in (
        ("human_handoff", [False]),
        ("sandbox", [False]),
        ("channel", [None, ""]),
        ("attributes", [None, {}]),
    ):
        if event.get(name) is None:  # absent (or null) is the same as the default written out
            rewritten[name] = random.choice(written)

    assert parse(rewritten).payload_hash == parse(event).payload_hash


# Hashes (and occurred_at_iso) computed by the implementation that stored them: a change to the
# hashed text would turn every re-post of an event stored before into a conflict.
@pytest.mark.parametrize(
    ("changes", "payload_hash", "occurred_at_iso"),
    [
        ({}, "8a068c113822468b75b3d35c928691e3", "2026-11-20T10:00:00+00:00"),
        (
            {
                "occurred_at": "2026-11-20T11:30:00.250+01:30",
                "value_amount": "120.50",
                "cost_amount": "0.450000",
                "human_handoff": True,
            },
            "85a3aa69ebb2cdd703b381748bf2707b",
            "2026-11-20T10:00:00.250000+00:00",
        ),
        (
            {
                "channel": "chat",
                "workflow": "support.refund",
                "session_id": "sess-9",
                "complexity": "complex",
                "verification_method": "customer_confirmed",
                "source_url": "https://helpdesk.example.com/tickets/9?tab=log",
                "sandbox": True,
                "failure_reason": "no_show",
                "value_amount": "10",
                "attributes": {"agent": "v2", "turns": 7, "ünï": ["€", None, 1.5]},
                "occurred_at": "2026-11-20T10:00:00.123456789z",
            },
            "031ea06a47da59d57426b2fcdac65724",
            "2026-11-20T10:00:00.123456+00:00",
        ),
    ],
)
def test_payload_hashes_stored_before_keep_matching(changes, payload_hash, occurred_at_iso):
    parsed = parse(valid(**changes))
    assert (parsed.payload_hash, parsed.occurred_at_iso) == (payload_hash, occurred_at_iso)
    assert parsed.payload_hash == stored_hash(parsed)


@settings(deadline=None)
@given(well_formed(), defects)
def test_a_defect_is_reported_under_its_field_with_its_message(case, defect):
    event, _ = case
    name, _, message = defect
    result = parse(with_defects(event, [defect]))

    assert isinstance(result, EventError), result
    assert (result.code, result.message) == ("validation_error", "The event has invalid fields.")
    assert result.fields == {name: [message]}


def _rank(name: str) -> tuple[int, str]:
    if name == "occurred_at":
        return (len(ERROR_ORDER) + 1, "")
    if name in ERROR_ORDER:
        return (ERROR_ORDER.index(name), "")
    return (len(ERROR_ORDER), name)


@settings(deadline=None)
@given(well_formed(), st.lists(defects, min_size=2, max_size=8, unique_by=lambda d: d[0]))
def test_every_defect_is_reported_at_once_in_a_fixed_order(case, chosen):
    event, _ = case
    result = parse(with_defects(event, chosen))

    assert isinstance(result, EventError), result
    assert result.code == "validation_error"
    assert result.fields == {name: [message] for name, _, message in chosen}
    assert list(result.fields) == sorted(result.fields, key=_rank)
    assert result.as_dict() == {"code": result.code, "message": result.message, "fields": result.fields}


@settings(deadline=None)
@given(
    well_formed(),
    st.integers(-LATE.days * 86400 - 86400, 86400),
    st.integers(0, 365).map(lambda d: timedelta(days=d)),
    st.integers(0, 3600).map(lambda s: timedelta(seconds=s)),
)
def test_occurred_at_is_checked_against_the_window(case, shift, late, future):
    event, occurred_at = case
    event["occurred_at"] = (occurred_at + timedelta(seconds=shift)).isoformat()
    at = occurred_at + timedelta(seconds=shift)
    result = parse(event, late=late, future=future)

    if at > NOW + future:
        assert result == EventError(
            "timestamp_out_of_range",
            "occurred_at is more than 5 minutes in the future.",
            {"occurred_at": ["More than 5 minutes in the future."]},
        )
    elif at < NOW - late:
        assert result == EventError(
            "timestamp_out_of_range",
            f"occurred_at is older than the late-event window ({late.days} days).",
            {"occurred_at": [f"Older than {late.days} days."]},
        )
    else:
        assert isinstance(result, ParsedEvent)
        assert result.occurred_at == at


@settings(deadline=None)
@given(well_formed(), defects.filter(lambda d: d[0] != "occurred_at"), st.sampled_from([-LATE * 2, FUTURE * 2]))
def test_an_invalid_event_is_not_checked_for_its_time_range(case, defect, shift):
    event, occurred_at = case
    event["occurred_at"] = (occurred_at + shift).isoformat()
    result = parse(with_defects(event, [defect]))

    assert (result.code, result.fields) == ("validation_error", {defect[0]: [defect[2]]})


@settings(deadline=None)
@given(timestamps(earliest=-timedelta(days=3650), latest=timedelta(days=3650)))
def test_parse_timestamp_reads_any_offset_as_utc(case):
    text, at = case
    parsed = parse_timestamp(text)
    assert parsed == at
    assert parsed.tzinfo is UTC


@settings(deadline=None)
@given(st.datetimes().map(lambda d: d.isoformat()) | st.sampled_from([None, 1_763_640_000, 1.5, True, b"x"]))
def test_parse_timestamp_refuses_naive_times_and_non_strings(value):
    assert parse_timestamp(value) is None


@settings(deadline=None)
@given(json_values.filter(lambda v: not isinstance(v, dict)))
def test_an_event_that_is_not_an_object_is_refused_whole(raw):
    assert parse(raw) == EventError("invalid_event", "Each event must be a JSON object.", {})
