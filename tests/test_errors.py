"""The contract's error body on every 4xx, the portal's error pages, and the system checks.

Every 4xx from the API is exactly ``{"error": {"code", "message"[, "fields"]}}`` — never a
stack trace, never a 500 for bad input.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, override_settings
from django.urls import reverse
from django.urls.converters import IntConverter, StringConverter

from accounts.checks import q_cluster_timeout_below_retry
from accounts.models import Account, Role
from accounts.throttling import PrincipalRateThrottle
from metering.models import Event, OutcomeType
from outcomeportal.urls import api_v1
from tests import factories
from tests.conftest import key_client

JSON = "application/json"
NOTHING_HERE = {"error": {"code": "not_found", "message": "There is nothing here."}}
BAD_REQUEST = {"error": {"code": "bad_request", "message": "The request could not be understood."}}
TOO_LARGE = {"error": {"code": "payload_too_large", "message": "The request body is over the 5 MB limit."}}


def assert_error_body(response, status: int) -> dict:
    """The contract's shape, whatever the error; returns the body for exact comparisons."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == JSON
    assert b"Traceback" not in response.content
    body = response.json()
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) in ({"code", "message"}, {"code", "message", "fields"})
    assert re.fullmatch(r"[a-z][a-z_]*[a-z]", error["code"]), error["code"]
    assert isinstance(error["message"], str)
    assert error["message"]
    if "fields" in error:
        assert error["fields"]
        for name, messages in error["fields"].items():
            assert isinstance(name, str)
            assert messages
            assert all(isinstance(m, str) and m for m in messages)
    return body


@pytest.fixture
def seeded(account_a, outcome_type):
    factories.ingest(factories.event_payload(account_a, "evt-1"))


# --- 401, 403, 404 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authentication credentials were not provided."),
        ("Bearer op_v_unknown", "The API key is unknown or revoked."),
        ("Token abc", "Use the header 'Authorization: Bearer <api key>'."),
    ],
)
def test_401(db, header, message):
    client = Client(HTTP_AUTHORIZATION=header) if header else Client()
    response = client.get("/api/v1/accounts")
    assert assert_error_body(response, 401) == {"error": {"code": "not_authenticated", "message": message}}
    assert response["WWW-Authenticate"] == "Bearer"


def test_403(account_a):
    response = key_client(account_a, Role.VIEWER).post("/api/v1/accounts", {}, content_type=JSON)
    assert assert_error_body(response, 403) == {
        "error": {
            "code": "permission_denied",
            "message": "This key or user is not allowed to do this (accounts.manage).",
        }
    }


@pytest.mark.parametrize(
    "path",
    ["/api/v1/nope", "/api/nope", "/api/", "/api/v2/accounts", "/api/v1/accounts/acme/extra", "/api/v1/accounts/"],
)
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_404_unknown_url_under_api(vendor_client, path, method):
    response = getattr(vendor_client, method)(path)
    assert assert_error_body(response, 404) == NOTHING_HERE


def test_403_session_write_without_csrf_token(db):
    # A portal session can call the API, but a write must carry the CSRF token (a key needs none).
    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.make_user(Role.VENDOR_OPERATOR))
    response = client.post("/api/v1/accounts", {"external_id": "x", "name": "X"}, content_type=JSON)
    assert assert_error_body(response, 403) == {
        "error": {"code": "permission_denied", "message": "CSRF Failed: CSRF cookie not set."}
    }
    assert Account.objects.count() == 0


def test_404_unknown_url_under_api_without_a_key(db):
    assert assert_error_body(Client().get("/api/v1/nope"), 404) == NOTHING_HERE


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/accounts/nope", "No such account."),
        ("/api/v1/events/acme/nope", "No such event."),
        ("/api/v1/events?account=nope", "No such account."),
        ("/api/v1/outcome-types/nope", "No outcome type 'nope'."),
        ("/api/v1/outcome-types/nope/criteria", "No outcome type 'nope'."),
    ],
)
def test_404_missing_object(vendor_client, seeded, path, message):
    assert assert_error_body(vendor_client.get(path), 404) == {"error": {"code": "not_found", "message": message}}


# --- 405, 400, 409 ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/accounts/acme", "GET, PATCH, HEAD, OPTIONS"),
        ("PUT", "/api/v1/events", "GET, POST, HEAD, OPTIONS"),
        ("PATCH", "/api/v1/accounts", "GET, POST, HEAD, OPTIONS"),
        ("GET", "/api/v1/events/acme/evt-1/signals", "POST, OPTIONS"),
        ("POST", "/api/v1/events/acme/evt-1", "GET, HEAD, OPTIONS"),
    ],
)
def test_405_wrong_method(vendor_client, seeded, method, path, allow):
    response = vendor_client.generic(method, path, "{}", content_type=JSON)
    assert assert_error_body(response, 405) == {
        "error": {"code": "method_not_allowed", "message": f'Method "{method}" not allowed.'}
    }
    assert response["Allow"] == allow


def test_400_validation_has_fields(vendor_client):
    response = vendor_client.post(
        "/api/v1/accounts", {"external_id": "x", "name": "", "currency": "usd"}, content_type=JSON
    )
    assert assert_error_body(response, 400) == {
        "error": {
            "code": "validation_error",
            "message": "The request has invalid fields.",
            "fields": {
                "name": ["This field may not be blank."],
                "currency": ["A three-letter ISO 4217 code, e.g. USD."],
            },
        }
    }


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("{", "unexpected end of data: line 1 column 2 (char 1)"),
        (b"\xff\xfe", "str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)"),
        ("[" * 2000 + "]" * 2000, "depth limit exceeded: line 1 column 1026 (char 1025)"),
        ('{"name": 1e999}', "number is infinity when parsed as double: line 1 column 10 (char 9)"),
        ("{'name': 'x'}", "unexpected character, expected a string key: line 1 column 2 (char 1)"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/accounts", "/api/v1/events"])
def test_400_not_json(vendor_client, path, body, detail):
    response = vendor_client.post(path, body, content_type=JSON)
    assert assert_error_body(response, 400) == {
        "error": {"code": "invalid_json", "message": f"The body is not valid JSON: {detail}"}
    }
    assert (Account.objects.count(), Event.objects.count()) == (0, 0)


def test_409_conflict(vendor_client, account_a):
    response = vendor_client.post("/api/v1/accounts", {"external_id": "acme", "name": "Acme"}, content_type=JSON)
    assert assert_error_body(response, 409) == {
        "error": {"code": "account_exists", "message": "An account with external_id 'acme' exists."}
    }


def test_409_outcome_type_exists(vendor_client, outcome_type):
    response = vendor_client.post(
        "/api/v1/outcome-types",
        {"code": "resolved_conversation", "name": "Again", "unit_price": "1.00"},
        content_type=JSON,
    )
    assert assert_error_body(response, 409) == {
        "error": {"code": "outcome_type_exists", "message": "An outcome type with code 'resolved_conversation' exists."}
    }
    assert OutcomeType.objects.get().name == "Resolved conversation"


# --- 413, 415, 406 ---------------------------------------------------------------------------


def _post_paths() -> list[str]:
    paths = []
    for name, path in _api_paths():
        view_class = _view_class(name)
        if "POST" in view_class().allowed_methods:
            paths.append(path)
    return paths


def _padded(size: int) -> bytes:
    """A valid JSON object of exactly ``size`` bytes: {"events": []} padded with spaces."""
    core = b'{"events": []'
    return core + b" " * (size - len(core) - 1) + b"}"


@pytest.fixture
def post_paths():
    return _post_paths()


def test_413_over_5_mb_on_every_post_endpoint(vendor_client, seeded, post_paths):
    limit = settings.API_MAX_BODY_BYTES
    assert limit == 5 * 1024 * 1024
    before = (Account.objects.count(), Event.objects.count(), OutcomeType.objects.count())
    for path in post_paths:
        response = vendor_client.post(path, _padded(limit + 1), content_type=JSON)
        assert assert_error_body(response, 413) == TOO_LARGE, path
    assert (Account.objects.count(), Event.objects.count(), OutcomeType.objects.count()) == before


def test_exactly_5_mb_is_parsed_not_refused(vendor_client):
    response = vendor_client.post("/api/v1/events", _padded(settings.API_MAX_BODY_BYTES), content_type=JSON)
    assert assert_error_body(response, 400) == {
        "error": {
            "code": "invalid_batch",
            "message": "A batch holds 1 to 1000 events; this one has 0.",
            "fields": {"events": ["Between 1 and 1000 events."]},
        }
    }


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "hello"),
        ("application/x-www-form-urlencoded", "external_id=x&name=y"),
        ("application/xml", "<account/>"),
    ],
)
def test_415_wrong_content_type(vendor_client, content_type, body):
    response = vendor_client.post("/api/v1/accounts", body, content_type=content_type)
    assert assert_error_body(response, 415) == {
        "error": {"code": "unsupported_media_type", "message": f'Unsupported media type "{content_type}" in request.'}
    }
    assert Account.objects.count() == 0


def test_415_multipart(vendor_client):
    response = vendor_client.post("/api/v1/accounts", {"external_id": "x", "name": "y"})
    body = assert_error_body(response, 415)
    assert body["error"]["code"] == "unsupported_media_type"
    assert body["error"]["message"].startswith('Unsupported media type "multipart/form-data; boundary=')


def test_406_unacceptable_accept_header(vendor_client):
    response = vendor_client.get("/api/v1/accounts", HTTP_ACCEPT="text/csv")
    assert assert_error_body(response, 406) == {
        "error": {"code": "not_acceptable", "message": "Could not satisfy the request Accept header."}
    }


# --- 429 -------------------------------------------------------------------------------------


@pytest.fixture
def tiny_rate(monkeypatch):
    # SimpleRateThrottle reads its rates once, at import: patch them where the class keeps them.
    monkeypatch.setattr(PrincipalRateThrottle, "THROTTLE_RATES", {"principal": "2/min"})
    # 10 seconds into a calendar minute: the window ends in 50.
    monkeypatch.setattr(PrincipalRateThrottle, "timer", lambda self: 1_795_000_030.0)


def test_429_with_retry_after(account_a, tiny_rate):
    client, other = key_client(account_a, Role.VIEWER), key_client(account_a, Role.VIEWER)
    assert [client.get("/api/v1/accounts").status_code for _ in range(2)] == [200, 200]

    response = client.get("/api/v1/accounts")

    assert assert_error_body(response, 429) == {
        "error": {"code": "rate_limited", "message": "Request was throttled. Expected available in 50 seconds."}
    }
    assert response["Retry-After"] == "50"
    # The limit is per key: another key of the same account is not held back.
    assert other.get("/api/v1/accounts").status_code == 200


def test_429_also_refuses_writes_and_stores_nothing(vendor_client, outcome_type, account_a, tiny_rate):
    payload = {"events": [factories.event_payload(account_a, "evt-throttled")]}
    vendor_client.get("/api/v1/accounts")
    vendor_client.get("/api/v1/accounts")
    response = vendor_client.post("/api/v1/events", payload, content_type=JSON)
    assert assert_error_body(response, 429)["error"]["code"] == "rate_limited"
    assert Event.objects.count() == 0


# --- Never a 500 for bad input, never a traceback --------------------------------------------

_PARAM_VALUES = {"external_id": "acme", "account": "acme", "event_id": "evt-1", "code": "resolved_conversation"}


def _view_class(name: str):
    return next(p.callback.cls for p in api_v1 if p.name == name)


def _api_paths() -> list[tuple[str, str]]:
    """(url name, a concrete path) for every api_v1 endpoint."""
    return [(pattern.name, reverse(f"api:{pattern.name}", kwargs=_kwargs(pattern))) for pattern in api_v1]


def _kwargs(pattern, nul_in: str | None = None) -> dict:
    kwargs = {}
    for param, converter in pattern.pattern.converters.items():
        kwargs[param] = 1 if isinstance(converter, IntConverter) else _PARAM_VALUES.get(param, "acme")
    if nul_in:
        kwargs[nul_in] = "ac\x00me"
    return kwargs


def _nul_paths() -> list[tuple[str, str]]:
    """A NUL in each free-text path parameter of every api_v1 endpoint."""
    return [
        (f"{pattern.name}:{param}", reverse(f"api:{pattern.name}", kwargs=_kwargs(pattern, nul_in=param)))
        for pattern in api_v1
        for param, converter in pattern.pattern.converters.items()
        if type(converter) is StringConverter  # not slug, int or uuid: any text reaches the lookup
    ]


_BAD_BODIES = [
    "{",
    "",
    "null",
    "[]",
    '"text"',
    "123",
    "{}",
    '{"unknown": 1}',
    '{"events": {}}',
    '{"events": [null, 1, "x", [], {}]}',
    '{"type": "reopened", "occurred_at": "0001-01-01T00:00:00+01:00"}',
    '{"code": "x", "name": "y", "unit_price": 1}',
    '{"external_id": ["x"], "name": {"a": 1}}',
    '{"account": ["acme"], "measurement_window_hours": "many"}',
    '{"account": "ac\\u0000me", "note": "\\u0000"}',
]
_BAD_QUERIES = [
    "?limit=-1",
    "?limit=1e3",
    "?limit=99999999999999999999",
    "?cursor=%25%25%25",
    "?cursor=OTk5OS0xMi0zMVQyMzo1OTo1OS0wMTowMHwx",
    "?from=x&to=y",
    "?from=9999-12-31T23:59:59-01:00&to=0001-01-01T00:00:00%2B01:00",
    "?status=nope&reason=nope&outcome_type=nope",
    "?account=nope",
    "?account=acme&account=globex",
    "?period=2026-13",
]


@pytest.mark.parametrize(("name", "path"), _api_paths(), ids=[name for name, _ in _api_paths()])
def test_bad_input_never_gives_a_500(vendor_client, seeded, name, path):
    client = Client(HTTP_AUTHORIZATION=vendor_client.defaults["HTTP_AUTHORIZATION"], raise_request_exception=False)
    methods = set(_view_class(name)().allowed_methods) - {"OPTIONS", "HEAD"}
    answered = []
    for method in sorted(methods):
        if method == "GET":
            for query in _BAD_QUERIES:
                answered.append((method, query, client.get(path + query)))
        else:
            for body in _BAD_BODIES:
                answered.append((method, body, client.generic(method, path, body, content_type=JSON)))
    for method, sent, response in answered:
        assert response.status_code < 500, (method, sent, response.content[:300])
        if response.status_code >= 400:
            assert_error_body(response, response.status_code)


@pytest.mark.parametrize(("name", "path"), _nul_paths(), ids=[name for name, _ in _nul_paths()])
def test_nul_in_a_path_parameter_is_400(vendor_client, seeded, name, path):
    # PostgreSQL text cannot hold NUL: a lookup with one used to fail in the database (500).
    assert assert_error_body(vendor_client.get(path), 400) == BAD_REQUEST
    assert assert_error_body(vendor_client.post(path, {}, content_type=JSON), 400) == BAD_REQUEST


@pytest.mark.parametrize(("name", "path"), _api_paths(), ids=[name for name, _ in _api_paths()])
def test_nul_in_the_query_is_400(vendor_client, seeded, name, path):
    assert assert_error_body(vendor_client.get(f"{path}?account=ac%00me"), 400) == BAD_REQUEST
    assert assert_error_body(vendor_client.get(f"{path}?a%00=1"), 400) == BAD_REQUEST


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("event_id", "evt\x00-1", "May not contain NUL characters."),
        ("session_id", "s\x00", "May not contain NUL characters."),
        ("channel", "chat\x00", "May not contain NUL characters."),
        ("attributes", {"note": "a\x00b"}, "May not contain NUL characters (PostgreSQL cannot store them)."),
        ("attributes", {"k\x00": 1}, "May not contain NUL characters (PostgreSQL cannot store them)."),
    ],
)
def test_nul_inside_an_event_rejects_that_event_only(vendor_client, account_a, outcome_type, field, value, message):
    bad = factories.event_payload(account_a, "evt-bad")
    bad[field] = value
    good = factories.event_payload(account_a, "evt-good")
    response = vendor_client.post("/api/v1/events", {"events": [bad, good]}, content_type=JSON)
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["status"] == "rejected"
    assert first["error"] == {
        "code": "validation_error",
        "message": "The event has invalid fields.",
        "fields": {field: [message]},
    }
    assert second == {"event_id": "evt-good", "status": "accepted"}
    assert list(Event.objects.values_list("event_id", flat=True)) == ["evt-good"]


@pytest.mark.parametrize("occurred_at", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_timestamp_outside_the_calendar_in_utc_rejects_that_event_only(
    vendor_client, account_a, outcome_type, occurred_at
):
    bad = factories.event_payload(account_a, "evt-bad")
    bad["occurred_at"] = occurred_at
    good = factories.event_payload(account_a, "evt-good")
    response = vendor_client.post("/api/v1/events", {"events": [bad, good]}, content_type=JSON)
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    assert body["results"][0]["error"]["fields"] == {
        "occurred_at": ["Must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T12:00:00Z."]
    }
    assert list(Event.objects.values_list("event_id", flat=True)) == ["evt-good"]


def test_unit_price_too_large_for_its_column_is_400(vendor_client):
    response = vendor_client.post(
        "/api/v1/outcome-types", {"code": "big", "name": "Big", "unit_price": "100000000"}, content_type=JSON
    )
    assert assert_error_body(response, 400)["error"]["fields"] == {"unit_price": ["Must be below 100,000,000."]}
    ok = vendor_client.post(
        "/api/v1/outcome-types", {"code": "big", "name": "Big", "unit_price": "99999999.9999"}, content_type=JSON
    )
    assert ok.status_code == 201
    assert ok.json()["unit_price"] == "99999999.9999"


def test_server_error_is_json_without_details(db, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("accounts.api.accounts_visible_to", boom)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}", raise_request_exception=False)
    response = client.get("/api/v1/accounts")
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "server_error", "message": "Something went wrong on our side; it has been logged."}
    }
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


# --- The portal's HTML error pages -----------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True])
def test_html_404_uses_the_portal_template(account_a, signed_in):
    client = Client()
    if signed_in:
        client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert [t.name for t in response.templates][:2] == ["errors/404.html", "base.html"]
    assert b"Traceback" not in response.content


def test_html_400_for_nul_in_a_portal_url(db):
    response = Client().get("/accounts/login/?next=%00")
    assert response.status_code == 400
    assert [t.name for t in response.templates][:2] == ["errors/400.html", "base.html"]


# --- System checks ---------------------------------------------------------------------------


def test_manage_py_check_passes():
    call_command("check")  # raises SystemCheckError on any error


def test_project_settings_pass_the_queue_check():
    assert q_cluster_timeout_below_retry(None) == []


def _timeout_error(timeout, retry) -> Error:
    return Error(
        f"Q_CLUSTER timeout ({timeout}) must be set and shorter than retry ({retry}).",
        hint="Otherwise the ORM broker re-delivers a task that is still running.",
        id="outcomeportal.E001",
    )


MAX_ATTEMPTS_ERROR = Error("Q_CLUSTER max_attempts must be set (0 retries forever).", id="outcomeportal.E002")


@pytest.mark.parametrize(
    ("conf", "errors"),
    [
        ({"timeout": 600, "retry": 720, "max_attempts": 3}, []),
        ({"timeout": 719, "retry": 720, "max_attempts": 1}, []),
        ({"timeout": 720, "retry": 720, "max_attempts": 3}, [_timeout_error(720, 720)]),
        ({"timeout": 900, "retry": 720, "max_attempts": 3}, [_timeout_error(900, 720)]),
        ({"retry": 720, "max_attempts": 3}, [_timeout_error(None, 720)]),
        ({"timeout": 600, "max_attempts": 3}, [_timeout_error(600, None)]),
        ({"timeout": 600, "retry": 720, "max_attempts": 0}, [MAX_ATTEMPTS_ERROR]),
        ({"timeout": 600, "retry": 720}, [MAX_ATTEMPTS_ERROR]),
        ({"timeout": 720, "retry": 600}, [_timeout_error(720, 600), MAX_ATTEMPTS_ERROR]),
    ],
)
def test_queue_check(conf, errors):
    with override_settings(Q_CLUSTER={"name": "outcomeportal", "orm": "default", **conf}):
        assert q_cluster_timeout_below_retry(None) == errors


def test_queue_check_is_registered_and_stops_manage_py_check():
    with (
        override_settings(Q_CLUSTER={**settings.Q_CLUSTER, "timeout": 720, "retry": 720}),
        pytest.raises(SystemCheckError, match=r"outcomeportal\.E001"),
    ):
        call_command("check")


def test_an_html_accept_header_still_gets_the_contract_error_body(db):
    from django.test import Client

    response = Client().get("/api/v1/events", HTTP_ACCEPT="text/html")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


# --- The portal's error pages: no static files needed, never Django's debug page ---------------

MANIFEST = "whitenoise.storage.CompressedManifestStaticFilesStorage"
DEBUG_PAGE_MARKERS = (b"Traceback", b"DEBUG = True", b"technical_500", b"Request Method:", b"Django Version")


@pytest.fixture
def uncollected(settings, tmp_path):
    """Production settings on a host where ``collectstatic`` never ran: an empty STATIC_ROOT and
    the hashed manifest storage, whose ``{% static %}`` fails for every file it has not seen."""
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.STATIC_ROOT.mkdir()
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {"BACKEND": MANIFEST}}
    return settings


def assert_error_page(response, status: int, heading: str) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "text/html; charset=utf-8"
    for marker in DEBUG_PAGE_MARKERS:
        assert marker not in response.content, marker
    html = response.content.decode()
    assert f'<p class="big" aria-hidden="true">{status}</p>' in html
    assert heading in html
    assert 'href="/static/css/portal.css"' in html  # by its plain name: no manifest lookup
    assert "<script" not in html
    return html


def test_the_uncollected_fixture_breaks_static_lookups(uncollected):
    from django.templatetags.static import static

    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        static("css/portal.css")


def test_404_page_without_collected_static_files(uncollected, db):
    response = Client().get("/no-such-page/")
    assert_error_page(response, 404, "There is nothing here")


def test_404_page_for_a_signed_in_user_keeps_the_portal_header(uncollected, account_a):
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    html = assert_error_page(client.get("/account/acme/events/nothing-here"), 404, "There is nothing here")
    assert "Acme Support" in html


def test_403_page_without_collected_static_files(uncollected, account_a):
    client = Client()
    client.force_login(factories.make_user(Role.VIEWER, account_a))
    response = client.get("/accounts/api-keys/")  # a viewer may not manage keys
    assert_error_page(response, 403, "You do not have access to this page")


def test_403_csrf_failure_is_the_portal_page(uncollected, account_a):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "x", "password": "y"})
    html = assert_error_page(response, 403, "That form could not be accepted")
    assert "CSRF verification failed" not in html  # Django's own page


def test_400_page_without_collected_static_files(uncollected, db):
    response = Client(HTTP_HOST="evil.example").get("/accounts/login/")  # not in ALLOWED_HOSTS
    assert_error_page(response, 400, "That request could not be understood")


def test_500_page_without_static_files_or_database(uncollected, account_a, monkeypatch, django_assert_num_queries):
    class DatabaseAway:
        def cursor(self):
            raise RuntimeError("the database is away")

    monkeypatch.setattr("outcomeportal.views.connection", DatabaseAway())
    client = Client(raise_request_exception=False)
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    with django_assert_num_queries(0):  # no session, user or message lookup: the database may be what failed
        response = client.get("/healthz")
    assert_error_page(response, 500, "Something went wrong on our side")


def test_500_under_the_api_is_the_contracts_body(uncollected, vendor_client, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database is away")

    monkeypatch.setattr("accounts.api.accounts_visible_to", broken)
    client = Client(HTTP_AUTHORIZATION=vendor_client.defaults["HTTP_AUTHORIZATION"], raise_request_exception=False)
    response = client.get("/api/v1/accounts")
    assert assert_error_body(response, 500) == {
        "error": {"code": "server_error", "message": "Something went wrong on our side; it has been logged."}
    }


@pytest.mark.parametrize("module", ["outcomeportal.views", "outcomeportal.api.errors", "outcomeportal.urls"])
def test_project_modules_import_first_in_a_fresh_interpreter(module):
    """Django's checks import CSRF_FAILURE_VIEW before anything else has loaded DRF; a circular
    import that an already-warm test process hides made `manage.py check` fail in CI."""
    code = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'outcomeportal.settings'); "
        f"django.setup(); import {module}"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)  # noqa: S603
    assert result.returncode == 0, result.stderr[-2000:]
