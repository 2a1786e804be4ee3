"""Webhook endpoints: the API, the Spend page's form, and delivery — never to the portal's own network.

The trio of every endpoint test (style.md "Tenancy"): a finance admin of A (who may change A's
endpoints), a viewer of A (403 on changes), and people of B (404 on A's). Refusals change nothing.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.test import Client
from django.utils import timezone

from accounts import outbound
from accounts.models import Role, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from accounts.notify import webhook_deliver, webhook_endpoint_create, webhooks_enqueue
from tests import factories
from tests.conftest import key_client

PUBLIC = "93.184.215.14"
DNS = {"hooks.acme.example": [PUBLIC], "hooks.globex.example": [PUBLIC], "localhost": ["127.0.0.1", "::1"]}
SSRF_URLS = [
    "https://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1:5432/",
    "https://localhost/",
    "http://10.0.0.1/",
    "http://[::1]/",
    "https://[::ffff:169.254.169.254]/",
    "https://[fd00::1]/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
]


@pytest.fixture(autouse=True)
def dns(monkeypatch):
    """A resolver of the test's own: names resolve as DNS says in this table, and nowhere else."""
    table = dict(DNS)

    def resolve(host, port):
        if host not in table:
            raise OSError(f"{host}: name not known")
        return table[host]

    monkeypatch.setattr(outbound, "resolve_host", resolve)
    return table


@pytest.fixture
def finance_a(account_a):
    return key_client(account_a, Role.FINANCE_ADMIN)


@pytest.fixture
def endpoint_a(account_a):
    return webhook_endpoint_create(account=account_a, url="https://hooks.acme.example/in")


@pytest.fixture
def endpoint_b(account_b):
    return webhook_endpoint_create(account=account_b, url="https://hooks.globex.example/in")


def session_client(role, account) -> Client:
    client = Client()
    client.force_login(factories.make_user(role, account))
    return client


def url(account, webhook_id=None) -> str:
    return f"/api/v1/accounts/{account.external_id}/webhooks" + (f"/{webhook_id}" if webhook_id else "")


def endpoints():
    return sorted(WebhookEndpoint.objects.values_list("account__external_id", "url", "active"))


# --- The API -----------------------------------------------------------------------------------


def test_finance_admin_adds_lists_and_removes_an_endpoint(account_a, finance_a):
    created = finance_a.post(url(account_a), {"url": "https://hooks.acme.example/in"}, content_type="application/json")
    assert created.status_code == 201
    body = created.json()
    endpoint = WebhookEndpoint.objects.get()
    assert body == {
        "id": endpoint.pk,
        "url": "https://hooks.acme.example/in",
        "active": True,
        "created_at": body["created_at"],
        "secret": endpoint.secret,
    }
    assert len(endpoint.secret) == 48

    listed = finance_a.get(url(account_a))
    assert listed.status_code == 200
    assert listed.json() == {"results": [body]}

    removed = finance_a.delete(url(account_a, endpoint.pk))
    assert removed.status_code == 204
    assert endpoints() == []


def test_a_session_finance_admin_uses_the_api_too(account_a):
    client = session_client(Role.FINANCE_ADMIN, account_a)
    response = client.post(url(account_a), {"url": "https://hooks.acme.example/in"}, content_type="application/json")
    assert response.status_code == 201
    assert endpoints() == [("acme", "https://hooks.acme.example/in", True)]


@pytest.mark.parametrize("bad_url", SSRF_URLS)
def test_addresses_of_the_portals_own_network_are_refused_with_invalid_url(account_a, finance_a, bad_url):
    response = finance_a.post(url(account_a), {"url": bad_url}, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_url"
    assert error["fields"] == {"url": [error["message"]]}
    assert "only public addresses" in error["message"] or "https://" in error["message"]
    assert endpoints() == []


@pytest.mark.parametrize(
    ("bad_url", "message"),
    [
        (
            "https://localhost/",
            "localhost resolves to 127.0.0.1, a loopback address: only public addresses can be called.",
        ),
        ("http://hooks.acme.example/in", "The URL must start with https://."),
        ("https://unknown.example/in", "The host unknown.example does not resolve."),
        ("not a url", "The URL must start with https://."),
    ],
)
def test_refusals_say_why(account_a, finance_a, bad_url, message):
    response = finance_a.post(url(account_a), {"url": bad_url}, content_type="application/json")
    assert response.json() == {"error": {"code": "invalid_url", "message": message, "fields": {"url": [message]}}}


def test_a_missing_url_is_a_validation_error(account_a, finance_a):
    response = finance_a.post(url(account_a), {}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "validation_error",
        "message": "The request has invalid fields.",
        "fields": {"url": ["This field is required."]},
    }


def test_http_and_on_premises_receivers_where_the_operator_allows_them(account_a, finance_a, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_HOSTS = ["10.20.0.0/16"]
    for allowed in ("http://hooks.acme.example/in", "https://10.20.0.5/in"):
        response = finance_a.post(url(account_a), {"url": allowed}, content_type="application/json")
        assert response.status_code == 201, response.content
    refused = finance_a.post(url(account_a), {"url": "http://10.21.0.5/in"}, content_type="application/json")
    assert refused.json()["error"]["code"] == "invalid_url"
    assert len(endpoints()) == 2


def test_viewers_read_endpoints_without_their_secret_and_change_nothing(account_a, endpoint_a):
    for viewer in (key_client(account_a, Role.VIEWER), session_client(Role.VIEWER, account_a)):
        listed = viewer.get(url(account_a))
        assert listed.status_code == 200
        assert [set(e) for e in listed.json()["results"]] == [{"id", "url", "active", "created_at"}]
        before = endpoints()
        added = viewer.post(url(account_a), {"url": "https://hooks.acme.example/2"}, content_type="application/json")
        removed = viewer.delete(url(account_a, endpoint_a.pk))
        for response in (added, removed):
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "permission_denied"
        assert endpoints() == before


def test_customer_admins_may_not_change_endpoints_either(account_a, endpoint_a):
    admin = key_client(account_a, Role.CUSTOMER_ADMIN)
    assert admin.delete(url(account_a, endpoint_a.pk)).status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint_a.pk).exists()


def test_another_accounts_endpoints_are_404_like_missing_ones(account_a, account_b, endpoint_a, endpoint_b):
    before = endpoints()
    for outsider in (key_client(account_b, Role.FINANCE_ADMIN), session_client(Role.FINANCE_ADMIN, account_b)):
        answers = [
            outsider.get(url(account_a)),
            outsider.post(url(account_a), {"url": "https://hooks.acme.example/x"}, content_type="application/json"),
            outsider.delete(url(account_a, endpoint_a.pk)),
            outsider.delete(url(account_b, endpoint_a.pk)),  # A's endpoint through B's own path
        ]
        missing = outsider.delete(url(account_b, 999_999_999)).json()
        for response in answers:
            assert response.status_code == 404
            assert "acme" not in response.content.decode()
        assert answers[3].json() == missing == {"error": {"code": "not_found", "message": "No such webhook endpoint."}}
        assert answers[0].json() == {"error": {"code": "not_found", "message": "No such account."}}
        own = outsider.get(url(account_b)).json()["results"]
        assert [e["id"] for e in own] == [endpoint_b.pk]
    assert endpoints() == before


def test_the_vendor_manages_any_accounts_endpoints(account_a, endpoint_a, vendor_client):
    assert [e["id"] for e in vendor_client.get(url(account_a)).json()["results"]] == [endpoint_a.pk]
    assert vendor_client.delete(url(account_a, endpoint_a.pk)).status_code == 204


def test_no_key_is_401(account_a, endpoint_a):
    assert Client().get(url(account_a)).status_code == 401
    assert Client().delete(url(account_a, endpoint_a.pk)).status_code == 401
    assert len(endpoints()) == 1


# --- The Spend page's form goes through the same check ----------------------------------------------


@pytest.mark.parametrize(
    "bad_url", ["https://169.254.169.254/latest/meta-data/", "https://localhost/", "https://[::1]/"]
)
def test_the_spend_page_refuses_the_same_urls(account_a, bad_url):
    client = session_client(Role.FINANCE_ADMIN, account_a)
    response = client.post(f"/account/{account_a.external_id}/spend/webhooks", {"url": bad_url})
    assert response.status_code == 400
    assert "only public addresses" in response.content.decode()
    assert endpoints() == []
    ok = client.post(f"/account/{account_a.external_id}/spend/webhooks", {"url": "https://hooks.acme.example/in"})
    assert ok.status_code == 302
    assert endpoints() == [("acme", "https://hooks.acme.example/in", True)]


# --- Delivery: checked again, to the checked address ------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    requests: list[dict] = []
    status = 200

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"host": self.headers["Host"], "path": self.path})
        self.send_response(type(self).status)
        if type(self).status == 302:
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/iam/")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.requests, _Receiver.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _deliver(account, *, now=None):
    now = now or timezone.now()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: None)  # delivered by hand below
        (delivery_id,) = webhooks_enqueue(
            account_id=account.pk, event_type="spend.threshold_reached", message_id="m-1", payload={"x": 1}, now=now
        )
    webhook_deliver(delivery_id=delivery_id, now=now)
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_dns_rebinding_after_the_check_is_refused_at_delivery(account_a, dns, receiver, settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    webhook_endpoint_create(account=account_a, url=f"http://hooks.acme.example:{receiver.server_port}/in")
    dns["hooks.acme.example"] = ["127.0.0.1"]  # the name now points at the portal's own machine

    delivery = _deliver(account_a)

    assert (delivery.status, delivery.attempts) == ("pending", 1)
    attempt = WebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert attempt.error == (
        "Refused: hooks.acme.example resolves to 127.0.0.1, a loopback address: only public addresses can be called."
    )
    assert _Receiver.requests == []  # nothing was sent


def test_an_endpoint_saved_before_the_rules_is_refused_at_delivery(account_a):
    WebhookEndpoint.objects.create(account=account_a, url="http://169.254.169.254/latest/meta-data/", secret="s")
    _deliver(account_a)
    assert WebhookAttempt.objects.get().error == "Refused: The URL must start with https://."


def test_delivery_connects_to_the_checked_address_with_the_host_name(account_a, dns, receiver, settings):
    # An on-premises receiver: its name resolves to an address the operator allowed.
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOWED_HOSTS = True, ["127.0.0.1/32"]
    dns["hooks.corp.example"] = ["127.0.0.1"]
    webhook_endpoint_create(account=account_a, url=f"http://hooks.corp.example:{receiver.server_port}/in?k=1")

    delivery = _deliver(account_a)

    assert delivery.status == "delivered"
    assert _Receiver.requests == [{"host": f"hooks.corp.example:{receiver.server_port}", "path": "/in?k=1"}]


def test_redirects_are_not_followed(account_a, dns, receiver, settings):
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOWED_HOSTS = True, ["hooks.corp.example"]
    dns["hooks.corp.example"] = ["127.0.0.1"]
    webhook_endpoint_create(account=account_a, url=f"http://hooks.corp.example:{receiver.server_port}/in")
    _Receiver.status = 302
    now = timezone.now()

    delivery = _deliver(account_a, now=now)

    assert (delivery.status, delivery.next_attempt_at) == ("pending", now + timedelta(seconds=30))
    attempt = WebhookAttempt.objects.get()
    assert (attempt.status_code, attempt.error) == (302, "HTTP 302 (redirects are not followed)")
    assert len(_Receiver.requests) == 1
