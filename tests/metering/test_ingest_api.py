"""POST and GET /api/v1/events through the real stack: statuses, counts, errors, pagination, scopes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import orjson
import pytest
from django.forms.models import model_to_dict
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, Role
from accounts.services import api_key_revoke
from billing.audit.detail import BILLING_CHECKS
from metering import engine
from metering.models import Event, SessionClaim
from tests import factories
from tests.conftest import key_client
from tests.metering.helpers import EVENTS_URL, assert_error, post_events, post_json

pytestmark = pytest.mark.django_db

CUSTOMER_ROLES = [Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER]


def ago(**delta):
    return timezone.now() - timedelta(**delta)


def stored_ids() -> list[str]:
    return sorted(Event.objects.values_list("event_id", flat=True))


# --- POST: per-event statuses ----------------------------------------------------------------


def test_a_mixed_batch_reports_each_event_in_order_with_exact_counts(vendor_client, account_a, outcome_type):
    dup = factories.event_payload(account_a, "evt-dup", channel="chat")
    conf = factories.event_payload(account_a, "evt-conf", channel="chat")
    assert factories.ingest(dup, conf).accepted == 2

    batch = [
        factories.event_payload(account_a, "evt-new-1"),
        dup,
        {**conf, "channel": "email"},
        factories.event_payload(account_a, "evt-bad", complexity="extreme"),
        factories.event_payload(account_a, "evt-new-2", sandbox=True),
    ]
    response = post_events(vendor_client, *batch)

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("accepted", "duplicates", "conflicts", "rejected")} == {
        "accepted": 2,
        "duplicates": 1,
        "conflicts": 1,
        "rejected": 1,
    }
    assert body["results"] == [
        {"event_id": "evt-new-1", "status": "accepted"},
        {"event_id": "evt-dup", "status": "duplicate"},
        {
            "event_id": "evt-conf",
            "status": "conflict",
            "error": {
                "code": "event_id_conflict",
                "message": "An event with event_id 'evt-conf' was already stored with a different payload; "
                "the stored event is kept unchanged.",
                "fields": {"event_id": ["Already used with a different payload."]},
            },
        },
        {
            "event_id": "evt-bad",
            "status": "rejected",
            "error": {
                "code": "validation_error",
                "message": "The event has invalid fields.",
                "fields": {"complexity": ["Must be one of simple, moderate, complex."]},
            },
        },
        {"event_id": "evt-new-2", "status": "accepted"},
    ]
    assert stored_ids() == ["evt-conf", "evt-dup", "evt-new-1", "evt-new-2"]


def test_a_conflict_keeps_the_stored_event_untouched(vendor_client, account_a, outcome_type):
    original = factories.event_payload(
        account_a,
        "evt-1",
        occurred_at=ago(hours=3),
        channel="chat",
        workflow="support.refund",
        session_id="sess-1",
        cost_amount="0.45",
        attributes={"agent": "v1"},
    )
    factories.ingest(original)
    before = model_to_dict(Event.objects.get(event_id="evt-1"))

    changed = {
        **original,
        "occurred_at": ago(hours=1).isoformat(),
        "success_criteria_met": False,
        "channel": "voice",
        "cost_amount": "9.99",
        "attributes": {"agent": "v2"},
    }
    response = post_events(vendor_client, changed)

    assert response.json()["results"] == [
        {
            "event_id": "evt-1",
            "status": "conflict",
            "error": {
                "code": "event_id_conflict",
                "message": "An event with event_id 'evt-1' was already stored with a different payload; "
                "the stored event is kept unchanged.",
                "fields": {"event_id": ["Already used with a different payload."]},
            },
        }
    ]
    stored = Event.objects.get(event_id="evt-1")
    assert model_to_dict(stored) == before
    assert (stored.channel, stored.success_criteria_met, stored.cost_amount) == ("chat", True, Decimal("0.450000"))
    assert stored.attributes == {"agent": "v1"}
    assert Event.objects.count() == 1


def test_the_same_event_id_in_another_account_is_a_different_event(vendor_client, account_a, account_b, outcome_type):
    response = post_events(
        vendor_client, factories.event_payload(account_a, "evt-1"), factories.event_payload(account_b, "evt-1")
    )
    assert [r["status"] for r in response.json()["results"]] == ["accepted", "accepted"]
    assert Event.objects.filter(event_id="evt-1").count() == 2


def test_the_same_event_twice_in_one_batch(vendor_client, account_a, outcome_type):
    event = factories.event_payload(account_a, "evt-1", value_amount="0.99")
    same_payload_spelt_differently = {**event, "value_amount": "0.990"}
    different = {**event, "channel": "email"}

    response = post_events(vendor_client, event, same_payload_spelt_differently, different, event)

    body = response.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate", "conflict", "duplicate"]
    assert [r["event_id"] for r in body["results"]] == ["evt-1"] * 4
    assert body["results"][2]["error"]["code"] == "event_id_conflict"
    assert (body["accepted"], body["duplicates"], body["conflicts"], body["rejected"]) == (1, 2, 1, 0)
    assert Event.objects.get().channel == ""


def test_posting_a_whole_batch_again_stores_nothing_new(vendor_client, account_a, outcome_type):
    batch = [factories.event_payload(account_a, f"evt-{i}", occurred_at=ago(minutes=i)) for i in range(20)]
    first = post_events(vendor_client, *batch).json()
    again = post_events(vendor_client, *batch).json()

    assert (first["accepted"], first["duplicates"]) == (20, 0)
    assert (again["accepted"], again["duplicates"], again["conflicts"]) == (0, 20, 0)
    assert {r["status"] for r in again["results"]} == {"duplicate"}
    assert Event.objects.count() == 20


def test_unknown_account_and_outcome_type_are_rejected_and_the_rest_is_stored(vendor_client, account_a, outcome_type):
    response = post_events(
        vendor_client,
        factories.event_payload(account_a, "evt-ok-1"),
        factories.event_payload("no-such-account", "evt-x"),
        factories.event_payload(account_a, "evt-y", outcome_type="no_such_type"),
        factories.event_payload(account_a, "evt-ok-2"),
    )

    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    assert body["results"][1] == {
        "event_id": "evt-x",
        "status": "rejected",
        "error": {
            "code": "unknown_account",
            "message": "No account with external_id 'no-such-account'.",
            "fields": {"account": ["Unknown account."]},
        },
    }
    assert body["results"][2] == {
        "event_id": "evt-y",
        "status": "rejected",
        "error": {
            "code": "unknown_outcome_type",
            "message": "No active outcome type 'no_such_type'.",
            "fields": {"outcome_type": ["Unknown outcome type."]},
        },
    }
    assert stored_ids() == ["evt-ok-1", "evt-ok-2"]


def test_an_inactive_outcome_type_is_unknown_to_ingestion(vendor_client, account_a, outcome_type):
    outcome_type.active = False
    outcome_type.save()
    body = post_events(vendor_client, factories.event_payload(account_a, "evt-1")).json()
    assert body["results"][0]["error"]["code"] == "unknown_outcome_type"
    assert Event.objects.count() == 0


def test_rejected_events_without_a_usable_event_id_are_still_reported_in_place(vendor_client, account_a, outcome_type):
    body = post_events(vendor_client, "not an object", {"event_id": 5}, factories.event_payload(account_a)).json()

    assert [r["status"] for r in body["results"]] == ["rejected", "rejected", "accepted"]
    assert [r["event_id"] for r in body["results"][:2]] == [None, None]
    assert body["results"][0]["error"] == {
        "code": "invalid_event",
        "message": "Each event must be a JSON object.",
        "fields": {},
    }
    assert body["results"][1]["error"]["code"] == "validation_error"
    assert body["results"][1]["error"]["fields"]["event_id"] == ["Must be a string."]


def test_a_future_event_is_rejected_with_timestamp_out_of_range(vendor_client, account_a, outcome_type):
    body = post_events(
        vendor_client,
        factories.event_payload(account_a, "evt-future", occurred_at=timezone.now() + timedelta(minutes=10)),
        factories.event_payload(account_a, "evt-old", occurred_at=ago(days=36)),
    ).json()
    assert [r["error"]["code"] for r in body["results"]] == ["timestamp_out_of_range", "timestamp_out_of_range"]
    assert Event.objects.count() == 0


def test_an_accepted_event_is_stored_decided_and_priced(vendor_client, account_a, outcome_type):
    at = ago(hours=2).replace(microsecond=0)
    post_events(vendor_client, factories.event_payload(account_a, "evt-1", occurred_at=at, cost_amount="0.03"))

    event = factories.event_seen("evt-1")
    assert (event.status, event.non_billable_reason) == ("pending", "")
    assert event.window_ends_at == at + timedelta(hours=72)
    assert (event.amount, event.currency, event.credits) == (Decimal("0.990000"), "USD", None)
    assert (event.charge.state, event.charge.reason, event.charge.contract_version_id) == ("estimated", "", None)
    assert event.cost_amount == Decimal("0.030000")
    assert event.criteria.label == "resolved_conversation v1"
    assert [code for code, _ in event.checks] == list(engine.CHECK_ORDER)


def test_deeply_nested_attributes_reject_that_event_only(vendor_client, account_a, outcome_type):
    deep = orjson.dumps(factories.event_payload(account_a, "evt-deep")).decode()[:-1]
    deep += ',"attributes":' + '{"a":' * 300 + "1" + "}" * 300 + "}"
    ok = orjson.dumps(factories.event_payload(account_a, "evt-ok")).decode()
    response = vendor_client.post(EVENTS_URL, f'{{"events": [{deep}, {ok}]}}', content_type="application/json")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "event_id": "evt-deep",
            "status": "rejected",
            "error": {
                "code": "validation_error",
                "message": "The event has invalid fields.",
                "fields": {"attributes": ["Nested too deeply."]},
            },
        },
        {"event_id": "evt-ok", "status": "accepted"},
    ]
    assert stored_ids() == ["evt-ok"]


def test_an_event_id_with_a_slash_can_be_read_back(vendor_client, account_a, outcome_type):
    assert post_events(vendor_client, factories.event_payload(account_a, "zendesk/ticket/1")).json()["accepted"] == 1
    response = vendor_client.get(f"{EVENTS_URL}/acme/zendesk%2Fticket%2F1")
    assert response.status_code == 200
    assert response.json()["event_id"] == "zendesk/ticket/1"


@pytest.mark.parametrize("event_id", ["a b?c#d%e&f=g", "ünïcödé-€", "x" * 128])
def test_event_ids_with_special_characters_can_be_read_back(vendor_client, account_a, outcome_type, event_id):
    assert post_events(vendor_client, factories.event_payload(account_a, event_id)).json()["accepted"] == 1
    response = vendor_client.get(f"{EVENTS_URL}/acme/{quote(event_id, safe='')}")
    assert response.status_code == 200
    assert response.json()["event_id"] == event_id


# --- POST: whole-request errors ----------------------------------------------------------------


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b'{"events": [}', b"events=1", b"nul\x00"])
def test_a_body_that_is_not_json_is_400_invalid_json(vendor_client, account_a, outcome_type, body):
    response = vendor_client.post(EVENTS_URL, body, content_type="application/json")
    assert_error(response, 400, "invalid_json", fields=None)
    assert Event.objects.count() == 0


def test_an_empty_body_is_400_as_a_missing_events_list(vendor_client, account_a, outcome_type):
    response = vendor_client.post(EVENTS_URL, b"", content_type="application/json")
    assert_error(response, 400, "invalid_batch", fields={"events": ["A list of 1 to 1,000 events is required."]})


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_refused_with_the_error_body(
    vendor_client, account_a, outcome_type, content_type
):
    body = orjson.dumps({"events": [factories.event_payload(account_a)]})
    response = vendor_client.post(EVENTS_URL, body, content_type=content_type)
    assert_error(response, 415, "unsupported_media_type", fields=None)
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "body",
    [{}, {"event": []}, {"events": {"event_id": "x"}}, {"events": "[]"}, {"events": None}, [], "events", 17],
)
def test_a_body_without_an_events_list_is_400(vendor_client, account_a, outcome_type, body):
    response = post_json(vendor_client, EVENTS_URL, body)
    assert_error(response, 400, "invalid_batch", fields={"events": ["A list of 1 to 1,000 events is required."]})
    assert Event.objects.count() == 0


def test_an_empty_events_list_is_400(vendor_client, account_a, outcome_type):
    response = post_json(vendor_client, EVENTS_URL, {"events": []})
    assert_error(response, 400, "invalid_batch", fields={"events": ["Between 1 and 1000 events."]})


def test_1001_events_are_400_and_nothing_is_stored(vendor_client, account_a, outcome_type):
    events = [factories.event_payload(account_a, f"evt-{i}") for i in range(1001)]
    response = post_json(vendor_client, EVENTS_URL, {"events": events})

    error = assert_error(response, 400, "invalid_batch", fields={"events": ["Between 1 and 1000 events."]})
    assert error["message"] == "A batch holds 1 to 1000 events; this one has 1001."
    assert Event.objects.count() == 0


def test_1000_events_are_accepted(vendor_client, account_a, outcome_type):
    events = [factories.event_payload(account_a, f"evt-{i}") for i in range(1000)]
    body = post_json(vendor_client, EVENTS_URL, {"events": events}).json()
    assert (body["accepted"], len(body["results"])) == (1000, 1000)
    assert Event.objects.count() == 1000


def test_a_body_over_5_mb_is_413_and_nothing_is_stored(vendor_client, account_a, outcome_type):
    padding = "x" * 6000
    events = [factories.event_payload(account_a, f"evt-{i}", attributes={"p": padding}) for i in range(900)]
    body = orjson.dumps({"events": events})
    assert len(body) > 5 * 1024 * 1024

    response = vendor_client.post(EVENTS_URL, body, content_type="application/json")

    assert_error(response, 413, "payload_too_large", fields=None)
    assert Event.objects.count() == 0


def test_a_body_just_under_5_mb_is_read(vendor_client, account_a, outcome_type):
    body = orjson.dumps({"events": [factories.event_payload(account_a, "evt-1")], "pad": "x" * (5 * 1024 * 1024 - 400)})
    assert len(body) <= 5 * 1024 * 1024
    response = vendor_client.post(EVENTS_URL, body, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


# --- POST: who may post ------------------------------------------------------------------------


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_account_keys_may_not_post_events(account_a, outcome_type, role):
    response = post_events(key_client(account_a, role), factories.event_payload(account_a))
    assert_error(response, 403, "permission_denied", fields=None)
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    "header",
    [None, "Bearer op_v_not-a-real-key", "Bearer ", "Basic dXNlcjpwdw==", "op_v_no_scheme"],
    ids=["no-key", "bad-key", "empty-key", "basic-auth", "no-scheme"],
)
def test_no_key_or_a_bad_key_is_401(account_a, outcome_type, header):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    for response in (post_events(client, factories.event_payload(account_a)), client.get(EVENTS_URL)):
        assert_error(response, 401, "not_authenticated", fields=None)
        assert response["WWW-Authenticate"] == "Bearer"
    assert Event.objects.count() == 0


def test_a_revoked_key_is_401(account_a, outcome_type):
    secret = factories.vendor_key()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert post_events(client, factories.event_payload(account_a, "evt-1")).status_code == 200

    api_key_revoke(api_key=ApiKey.objects.get(scope="vendor", name="test vendor"))

    assert_error(post_events(client, factories.event_payload(account_a, "evt-2")), 401, "not_authenticated", None)
    assert_error(client.get(EVENTS_URL), 401, "not_authenticated", None)
    assert stored_ids() == ["evt-1"]


# --- GET list ------------------------------------------------------------------------------------

ROW_FIELDS = {
    # the posted fields (cost_amount only for the vendor)...
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
    "attributes",
    # ...and the decision.
    "status",
    "measurement_window_ends_at",
    "non_billable_reason",
    "amount",
    "currency",
    "credits",
    "invoice_id",
    "rule_version",
}


def _page_walk(client, query: str, limit: int) -> tuple[list[dict], int]:
    rows, pages, cursor = [], 0, None
    while True:
        url = f"{EVENTS_URL}?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == {"results", "next_cursor"}
        assert len(body["results"]) <= limit
        rows += body["results"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages
        assert len(body["results"]) == limit


def test_keyset_pagination_walks_every_row_once_newest_first(vendor_client, account_a, outcome_type):
    base = ago(hours=5).replace(microsecond=0)
    # 23 events, several sharing an occurred_at (the id breaks the tie).
    payloads = [
        factories.event_payload(account_a, f"evt-{i:02d}", occurred_at=base + timedelta(minutes=i // 3))
        for i in range(23)
    ]
    factories.ingest(*payloads)
    expected = list(
        Event.objects.order_by("-occurred_at", "-id").values_list("event_id", flat=True)
    )  # newest first, ties by id

    rows, pages = _page_walk(vendor_client, "", limit=5)

    assert [r["event_id"] for r in rows] == expected
    assert len(rows) == 23
    assert len(set(expected)) == 23
    assert pages == 5
    occurred = [r["occurred_at"] for r in rows]
    assert occurred == sorted(occurred, reverse=True)


def test_a_page_of_exactly_the_remaining_rows_ends_with_no_cursor(vendor_client, account_a, outcome_type):
    factories.ingest(*[factories.event_payload(account_a, f"evt-{i}", occurred_at=ago(minutes=i)) for i in range(4)])
    first = vendor_client.get(f"{EVENTS_URL}?limit=4").json()
    assert (len(first["results"]), first["next_cursor"]) == (4, None)

    two = vendor_client.get(f"{EVENTS_URL}?limit=2").json()
    rest = vendor_client.get(f"{EVENTS_URL}?limit=2&cursor={two['next_cursor']}").json()
    assert [r["event_id"] for r in two["results"] + rest["results"]] == ["evt-0", "evt-1", "evt-2", "evt-3"]
    assert rest["next_cursor"] is None


@pytest.fixture
def varied(account_a, account_b, outcome_type):
    """Events of two accounts and two types, in several statuses, at known times."""
    factories.make_outcome_type("qualified_lead", unit_price="5.00", measurement_window_hours=0)
    t = ago(days=2).replace(microsecond=0)
    factories.ingest(
        factories.event_payload(account_a, "a-pending", occurred_at=t),
        factories.event_payload(account_a, "a-sandbox", occurred_at=t + timedelta(hours=1), sandbox=True),
        factories.event_payload(account_a, "a-handoff", occurred_at=t + timedelta(hours=2), human_handoff=True),
        factories.event_payload(
            account_a, "a-lead", occurred_at=t + timedelta(hours=3), outcome_type="qualified_lead", cost_amount="1.2"
        ),
        factories.event_payload(account_b, "b-pending", occurred_at=t + timedelta(hours=4)),
        factories.event_payload(account_b, "b-sandbox", occurred_at=t + timedelta(hours=5), sandbox=True),
    )
    return t


def _ids(client, query: str) -> list[str]:
    response = client.get(f"{EVENTS_URL}?{query}")
    assert response.status_code == 200, response.content
    return [r["event_id"] for r in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["b-sandbox", "b-pending", "a-lead", "a-handoff", "a-sandbox", "a-pending"]),
        ("account=acme", ["a-lead", "a-handoff", "a-sandbox", "a-pending"]),
        ("account=globex", ["b-sandbox", "b-pending"]),
        ("status=pending", ["b-pending", "a-pending"]),
        ("status=billable", ["a-lead"]),
        ("status=non_billable", ["b-sandbox", "a-handoff", "a-sandbox"]),
        ("status=invoiced", []),
        ("outcome_type=qualified_lead", ["a-lead"]),
        ("reason=sandbox", ["b-sandbox", "a-sandbox"]),
        ("reason=human_handoff", ["a-handoff"]),
        ("reason=cap_reached", []),
        ("account=acme&status=non_billable&reason=sandbox", ["a-sandbox"]),
    ],
)
def test_list_filters(vendor_client, varied, query, expected):
    assert _ids(vendor_client, query) == expected


def test_list_time_filters_from_inclusive_to_exclusive(vendor_client, varied):
    t = varied

    def stamp(hours: int) -> str:
        return (t + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")

    assert _ids(vendor_client, f"from={stamp(1)}&to={stamp(3)}") == ["a-handoff", "a-sandbox"]
    assert _ids(vendor_client, f"from={stamp(4)}") == ["b-sandbox", "b-pending"]
    assert _ids(vendor_client, f"to={stamp(1)}") == ["a-pending"]
    assert _ids(vendor_client, f"from={stamp(1)}&to={stamp(1)}") == []
    # An offset other than Z means the same instant.
    plus_two = (t + timedelta(hours=5)).astimezone(timezone.get_fixed_timezone(120)).isoformat()
    assert _ids(vendor_client, "from=" + plus_two.replace("+", "%2B")) == ["b-sandbox"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("limit=0", {"limit": ["An integer from 1 to 500."]}),
        ("limit=501", {"limit": ["An integer from 1 to 500."]}),
        ("limit=-1", {"limit": ["An integer from 1 to 500."]}),
        ("limit=ten", {"limit": ["An integer from 1 to 500."]}),
        ("status=done", {"status": ["One of pending, billable, non_billable, invoiced, disputed, credited."]}),
        ("reason=too_expensive", {"reason": ["Not a non-billable reason word."]}),
        ("outcome_type=nope", {"outcome_type": ["Unknown outcome type."]}),
        ("from=yesterday", {"from": ["An RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z."]}),
        ("to=2026-11-01", {"to": ["An RFC 3339 timestamp, e.g. 2026-11-01T00:00:00Z."]}),
    ],
)
def test_bad_list_parameters_are_400(vendor_client, varied, query, fields):
    assert_error(vendor_client.get(f"{EVENTS_URL}?{query}"), 400, "validation_error", fields=fields)


@pytest.mark.parametrize("limit", [1, 500])
def test_limit_bounds_are_inclusive(vendor_client, varied, limit):
    body = vendor_client.get(f"{EVENTS_URL}?limit={limit}").json()
    assert len(body["results"]) == min(limit, 6)
    assert (body["next_cursor"] is None) == (limit == 500)


@pytest.mark.parametrize("cursor", ["garbage!", "bm90LWEtY3Vyc29y", "MjAyNi0xMS0wMVQwMDowMDowMCswMDowMHx4", "%FF"])
def test_a_bad_cursor_is_400(vendor_client, varied, cursor):
    assert_error(
        vendor_client.get(f"{EVENTS_URL}?cursor={cursor}"), 400, "invalid_cursor", {"cursor": ["Invalid cursor."]}
    )


def test_a_list_row_has_the_contract_fields(vendor_client, varied):
    rows = {r["event_id"]: r for r in vendor_client.get(EVENTS_URL).json()["results"]}
    t = varied

    assert ROW_FIELDS | {"cost_amount"} <= set(rows["a-pending"])
    pending = rows["a-pending"]
    assert pending["status"] == "pending"
    assert pending["measurement_window_ends_at"] == (t + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    assert pending["occurred_at"] == t.isoformat().replace("+00:00", "Z")
    assert (pending["non_billable_reason"], pending["amount"], pending["currency"]) == (None, "0.990000", "USD")
    assert (pending["credits"], pending["invoice_id"], pending["cost_amount"]) == (None, None, None)
    assert pending["rule_version"] == "resolved_conversation v1"

    lead = rows["a-lead"]
    assert (lead["status"], lead["amount"], lead["cost_amount"]) == ("billable", "5.000000", "1.200000")
    assert lead["measurement_window_ends_at"] == lead["occurred_at"]
    assert lead["rule_version"] == "qualified_lead v1"

    sandbox = rows["a-sandbox"]
    assert (sandbox["status"], sandbox["non_billable_reason"], sandbox["amount"]) == ("non_billable", "sandbox", None)
    # Amounts are decimal strings, never JSON numbers.
    for row in rows.values():
        for name in ("amount", "credits", "cost_amount", "value_amount"):
            assert row[name] is None or isinstance(row[name], str)


@pytest.mark.parametrize("role", CUSTOMER_ROLES)
def test_account_keys_read_their_own_events_without_cost(varied, account_a, role):
    client = key_client(account_a, role)
    response = client.get(EVENTS_URL)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["event_id"] for r in rows] == ["a-lead", "a-handoff", "a-sandbox", "a-pending"]
    for row in rows:
        assert set(row) >= ROW_FIELDS
        assert "cost_amount" not in row
    detail = client.get(f"{EVENTS_URL}/acme/a-lead").json()
    assert "cost_amount" not in detail
    assert "cost_amount" not in orjson.dumps(detail).decode()


def test_an_account_key_never_sees_another_account(varied, admin_a_client):
    assert_error(admin_a_client.get(f"{EVENTS_URL}?account=globex"), 404, "not_found", None)
    assert_error(admin_a_client.get(f"{EVENTS_URL}/globex/b-pending"), 404, "not_found", None)
    assert _ids(admin_a_client, "account=acme&reason=sandbox") == ["a-sandbox"]


def test_an_unknown_account_filter_is_404_for_the_vendor(vendor_client, varied):
    assert_error(vendor_client.get(f"{EVENTS_URL}?account=nobody"), 404, "not_found", None)


# --- GET detail ------------------------------------------------------------------------------------


def test_event_detail_explains_the_decision_criterion_by_criterion(vendor_client, varied):
    response = vendor_client.get(f"{EVENTS_URL}/acme/a-handoff")

    assert response.status_code == 200
    body = response.json()
    assert ROW_FIELDS | {"cost_amount", "decision", "signals"} <= set(body)
    decision = body["decision"]
    assert decision["status"] == "non_billable"
    assert decision["non_billable_reason"] == "human_handoff"
    assert decision["reason_text"] == "Escalated or handed off to a human"
    assert decision["rule_version"] == "resolved_conversation v1"
    assert decision["engine_version"] == engine.ENGINE_VERSION
    assert decision["settled_at"] is None
    # Metering's checks; billing's (allowances, cap, credits) follow only for an event with a charge,
    # and a handed-off attempt under a plain unit price cannot cost money: it has none.
    billing_checks = {code: text for code, _, text in BILLING_CHECKS}
    assert [c["code"] for c in decision["criteria"]] == list(engine.CHECK_ORDER)
    outcomes = {c["code"]: c["outcome"] for c in decision["criteria"]}
    assert outcomes["no_human_handoff"] == "failed"
    assert [code for code, outcome in outcomes.items() if outcome == "failed"] == ["no_human_handoff"]
    assert outcomes["first_in_session"] == "n/a"  # no session_id
    texts = {**{code: check[1] for code, check in engine.CHECKS.items()}, **billing_checks}
    assert all(c["description"] == texts[c["code"]] for c in decision["criteria"])
    assert body["signals"] == []


def test_event_detail_of_a_billable_event(vendor_client, varied):
    body = vendor_client.get(f"{EVENTS_URL}/acme/a-lead").json()
    assert (body["decision"]["status"], body["decision"]["non_billable_reason"]) == ("billable", None)
    assert body["decision"]["settled_at"] == body["decision"]["decided_at"]
    assert {c["outcome"] for c in body["decision"]["criteria"]} == {"passed", "n/a"}


@pytest.mark.parametrize("path", ["acme/no-such-event", "nobody/a-pending", "globex/a-pending"])
def test_event_detail_404(vendor_client, varied, path):
    assert_error(vendor_client.get(f"{EVENTS_URL}/{path}"), 404, "not_found", None)


# --- One billable outcome per session ----------------------------------------------------------


def test_the_earliest_event_of_a_session_in_a_batch_holds_it_whatever_the_order(vendor_client, account_a, outcome_type):
    t = ago(hours=5)
    body = post_events(
        vendor_client,
        factories.event_payload(account_a, "late", occurred_at=t + timedelta(hours=1), session_id="s1"),
        factories.event_payload(account_a, "early", occurred_at=t, session_id="s1"),
        factories.event_payload(account_a, "failed", occurred_at=t - timedelta(hours=1), session_id="s1", sandbox=True),
        factories.event_payload(account_a, "other-session", occurred_at=t, session_id="s2"),
    ).json()

    assert body["accepted"] == 4
    decided = {e.event_id: (e.status, e.non_billable_reason, e.state) for e in Event.objects.all()}
    assert decided == {
        "early": ("pending", "", {}),
        "late": ("non_billable", "duplicate_in_session", {"session_taken_by": "early"}),
        "failed": ("non_billable", "sandbox", {}),  # a failed attempt never takes the session
        "other-session": ("pending", "", {}),
    }
    assert factories.event_seen("late").amount is None


@pytest.mark.parametrize(("policy", "after_window"), [("continuation", "duplicate_in_session"), ("new_outcome", "")])
def test_a_success_after_the_holders_window_follows_the_reopen_policy(account_a, policy, after_window):
    factories.make_outcome_type(measurement_window_hours=24, reopen_after_window=policy)
    t = ago(days=3)
    factories.ingest(factories.event_payload(account_a, "first", occurred_at=t, session_id="s1"))
    factories.ingest(factories.event_payload(account_a, "inside", occurred_at=t + timedelta(hours=23), session_id="s1"))
    factories.ingest(factories.event_payload(account_a, "after", occurred_at=t + timedelta(hours=25), session_id="s1"))

    reasons = dict(Event.objects.values_list("event_id", "non_billable_reason"))
    assert reasons == {"first": "", "inside": "duplicate_in_session", "after": after_window}
    holder = "first" if policy == "continuation" else "after"
    assert SessionClaim.objects.get().event_key == holder


def test_a_new_outcome_after_the_window_does_not_depend_on_batching(account_a):
    factories.make_outcome_type(measurement_window_hours=24, reopen_after_window="new_outcome")
    t = ago(days=3)
    factories.ingest(factories.event_payload(account_a, "first", occurred_at=t, session_id="s1"))
    factories.ingest(
        factories.event_payload(account_a, "inside", occurred_at=t + timedelta(hours=23), session_id="s1"),
        factories.event_payload(account_a, "after", occurred_at=t + timedelta(hours=25), session_id="s1"),
    )

    reasons = dict(Event.objects.values_list("event_id", "non_billable_reason"))
    assert reasons == {"first": "", "inside": "duplicate_in_session", "after": ""}
    assert SessionClaim.objects.get().event_key == "after"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("value_amount", "-1.00", "Must not be negative."),
        ("cost_amount", "-0.000001", "Must not be negative."),
        ("value_amount", " 1", 'Must be a decimal string such as "12.50".'),
        ("cost_amount", "1 ", 'Must be a decimal string such as "12.50".'),
        ("value_amount", "1_000", 'Must be a decimal string such as "12.50".'),
    ],
)
def test_a_negative_or_padded_amount_rejects_that_event_only(
    vendor_client, account_a, outcome_type, field, value, message
):
    bad = factories.event_payload(account_a, "evt-bad", **{field: value})
    ok = factories.event_payload(account_a, "evt-ok", **{field: "1.50"})
    response = vendor_client.post(EVENTS_URL, {"events": [bad, ok]}, content_type="application/json")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "event_id": "evt-bad",
            "status": "rejected",
            "error": {
                "code": "validation_error",
                "message": "The event has invalid fields.",
                "fields": {field: [message]},
            },
        },
        {"event_id": "evt-ok", "status": "accepted"},
    ]
    assert stored_ids() == ["evt-ok"]
