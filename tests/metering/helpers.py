"""Small helpers shared by the metering tests."""

from __future__ import annotations

import orjson

EVENTS_URL = "/api/v1/events"


def valid(**changes) -> dict:
    """A well-formed event with only the required fields (as posted), with ``changes`` applied."""
    event = {
        "event_id": "evt-1",
        "account": "acme",
        "outcome_type": "resolved_conversation",
        "occurred_at": "2026-11-20T10:00:00Z",
        "success_criteria_met": True,
    }
    event.update(changes)
    return event


def post_json(client, url: str, body, **extra):
    return client.post(url, orjson.dumps(body), content_type="application/json", **extra)


def post_events(client, *events: dict):
    return post_json(client, EVENTS_URL, {"events": list(events)})


def assert_error(
    response, status: int, code: str, fields: dict | type | None = ..., extra: frozenset = frozenset()
) -> dict:
    """The contract's error body, exactly: {"error": {"code", "message", "fields"?}}.

    ``fields``: the exact fields expected; ``None`` when the body must have no ``fields``;
    leave out to accept any fields (still a dict of lists of strings). ``extra``: top-level
    keys an endpoint documents beside ``error`` (e.g. the recorded ``signal`` of a 409).
    """
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", *extra}
    error = body["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert {"code", "message"} <= set(error)
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"].strip() != ""
    assert "Traceback" not in error["message"]
    if fields is None:
        assert "fields" not in error
    elif fields is not ...:
        assert error["fields"] == fields
    if "fields" in error:
        assert all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in error["fields"].values())
    return error
