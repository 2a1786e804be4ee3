"""Spend controls end to end: caps at ingestion, pause and resume, alerts once, status API, page."""

import threading
from datetime import timedelta
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Notification, Role, WebhookAttempt, WebhookDelivery
from accounts.notify import webhook_endpoint_create, webhook_signature, webhook_signature_verify, webhooks_deliver_due
from billing.audit.detail import decision_explained
from billing.ingestion import signal_record
from billing.ledger.models import FREE_REASONS, Charge
from billing.ledger.selectors import attach_charges
from billing.models import SpendAlert, SpendControl, SpendControlChange
from billing.spend.services import spend_controls_set
from metering.models import Event, EventStatus
from tests import factories
from tests.conftest import key_client


def cap(account, amount=None, outcomes=None, at_cap="pause", thresholds=(50, 80, 100)):
    return spend_controls_set(
        account=account,
        monthly_cap=None if amount is None else D(amount),
        monthly_cap_outcomes=outcomes,
        alert_thresholds=list(thresholds),
        at_cap=at_cap,
        changed_by="test",
    )


def post(account, n, *, start=0, now=None, minutes_ago=1):
    at = (now or timezone.now()) - timedelta(minutes=minutes_ago)
    payloads = [
        factories.event_payload(account, f"e-{start + i}", occurred_at=at - timedelta(seconds=i)) for i in range(n)
    ]
    return factories.ingest(*payloads, now=now)


def statuses(account):
    """Each event's (status, reason) as customers see it: metering's decision joined with its charge."""
    return sorted((e.shown_status, e.shown_reason) for e in attach_charges(list(Event.objects.filter(account=account))))


def shown(account, event_id):
    return factories.event_seen(event_id, account)


@pytest.fixture
def capped(account_a, outcome_type):
    cap(account_a, "2.97")  # three outcomes at $0.99
    return account_a


def test_outcomes_past_the_cap_are_not_charged_and_the_account_pauses(capped, vendor_client):
    post(capped, 5)
    assert statuses(capped) == [("non_billable", "cap_reached")] * 2 + [("pending", "")] * 3
    # The capped outcomes' charges charge nothing (no amount); metering still has them pending.
    assert Charge.objects.filter(account=capped, reason="cap_reached").count() == 2
    assert Charge.objects.filter(account=capped, reason="cap_reached", amount__isnull=False).count() == 0
    assert set(Charge.objects.filter(account=capped, reason="cap_reached").values_list("event__status", flat=True)) == {
        EventStatus.PENDING
    }
    body = vendor_client.get(f"/api/v1/accounts/{capped.external_id}/status").json()
    assert body == {
        "paused": True,
        "reason": "monthly_cap_reached",
        "period": timezone.now().strftime("%Y-%m"),
        "period_spend": "2.97",
        "invoice_total": "0.00",  # all three still in their measurement window
        "pending_spend": "2.97",
        "cap": "2.97",
        "cap_outcomes": None,
        "outcomes_this_period": 3,
        "alerts_fired": [50, 80, 100],
    }


def test_decision_of_a_capped_outcome_names_the_cap(capped):
    post(capped, 4)
    # The cap is billing's ruling, on the charge; the decision explained appends billing's checks to
    # metering's, and the spend cap's is the one that failed (decisively: metering's all passed).
    charge = Charge.objects.select_related("event").get(account=capped, reason="cap_reached")
    event = shown(capped, charge.event.event_id)
    checks = {c.code: (c.outcome, c.decisive) for c in decision_explained(event)}
    assert checks["within_spend_cap"] == ("failed", True)
    assert (event.shown_status, event.shown_reason, event.amount) == ("non_billable", "cap_reached", None)
    assert "cap_reached" not in event.state  # metering's state holds no billing facts


def test_raising_the_cap_resumes_and_later_outcomes_are_charged(capped, vendor_client):
    post(capped, 4)
    response = vendor_client.put(
        f"/api/v1/accounts/{capped.external_id}/spend-controls",
        {"monthly_cap": "10.00"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert vendor_client.get(f"/api/v1/accounts/{capped.external_id}/status").json()["paused"] is False
    post(capped, 1, start=100)
    e100 = shown(capped, "e-100")
    assert (e100.shown_status, e100.charge.reason, e100.amount) == (EventStatus.PENDING, "", D("0.99"))


def test_a_cap_below_current_spend_pauses_at_once(account_a, outcome_type, vendor_client):
    post(account_a, 3)
    response = vendor_client.put(
        f"/api/v1/accounts/{account_a.external_id}/spend-controls",
        {"monthly_cap": "1.00"},
        content_type="application/json",
    )
    assert response.status_code == 200
    status = vendor_client.get(f"/api/v1/accounts/{account_a.external_id}/status").json()
    assert (status["paused"], status["period_spend"], status["alerts_fired"]) == (True, "2.97", [50, 80, 100])
    post(account_a, 1, start=10)
    assert shown(account_a, "e-10").shown_reason == "cap_reached"


def test_an_outcome_that_turns_non_billable_releases_its_reservation(account_a, outcome_type):
    cap(account_a, "3.96")  # four outcomes
    post(account_a, 3)
    first = Event.objects.get(account=account_a, event_id="e-0")
    signal_record(event=first, type="reopened", occurred_at=timezone.now())
    post(account_a, 2, start=10)  # 1.98 + 1.98 = 3.96: both fit once e-0 released its 0.99
    assert statuses(account_a).count(("pending", "")) == 4
    assert Charge.objects.filter(account=account_a, reason="cap_reached").count() == 0


def test_allow_overage_keeps_charging_and_alerts(account_a, outcome_type):
    cap(account_a, "1.98", at_cap="allow_overage")
    post(account_a, 4)
    assert statuses(account_a) == [("pending", "")] * 4
    assert sorted(SpendAlert.objects.values_list("threshold", flat=True)) == [50, 80, 100]


def test_outcome_count_cap(account_a, outcome_type):
    cap(account_a, outcomes=2)
    post(account_a, 3)
    assert statuses(account_a) == [("non_billable", "cap_reached"), ("pending", ""), ("pending", "")]


def test_the_next_period_starts_unpaused(capped):
    post(capped, 4)
    next_month = (timezone.now().replace(day=1) + timedelta(days=40)).replace(day=2, hour=12)
    post(capped, 2, start=50, now=next_month)
    assert [shown(capped, e).shown_status for e in ("e-50", "e-51")] == ["pending", "pending"]


def test_each_threshold_fires_once_and_tells_finance_admins(capped):
    post(capped, 1)
    post(capped, 1, start=10)
    post(capped, 3, start=20)
    call_command("send_alerts")
    call_command("send_alerts")
    assert sorted(SpendAlert.objects.filter(kind="threshold").values_list("threshold", flat=True)) == [50, 80, 100]
    assert Notification.objects.filter(account=capped, kind="spend_alert").count() == 3
    assert {tuple(r) for r in Notification.objects.filter(kind="spend_alert").values_list("roles", flat=True)} == {
        ("finance_admin",)
    }


@pytest.mark.django_db(transaction=True)
def test_eight_parallel_connections_never_bill_over_the_cap(account_a, outcome_type):
    cap(account_a, "49.50")  # exactly 50 outcomes at $0.99
    errors = []

    def worker(n):
        try:
            post(account_a, 25, start=n * 1000)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    billed = Charge.objects.filter(account=account_a).exclude(reason__in=FREE_REASONS)
    assert billed.count() == 50
    assert sum(c.amount for c in billed) == D("49.50")
    assert Charge.objects.filter(account=account_a, reason="cap_reached").count() == 150
    assert factories.rollups_match_rows()
    assert sorted(SpendAlert.objects.values_list("threshold", flat=True)) == [50, 80, 100]
    assert Notification.objects.filter(kind="spend_alert").count() == 3
    assert Notification.objects.filter(kind="spend_paused").count() == 1


# --- API permissions and validation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [(Role.FINANCE_ADMIN, 200), (Role.CUSTOMER_ADMIN, 403), (Role.VIEWER, 403)],
)
def test_only_finance_admins_and_the_vendor_set_controls(account_a, role, expected):
    client = key_client(account_a, role)
    response = client.put(
        f"/api/v1/accounts/{account_a.external_id}/spend-controls",
        {"monthly_cap": "500.00", "alert_thresholds": [50, 90]},
        content_type="application/json",
    )
    assert response.status_code == expected
    assert SpendControl.objects.filter(account=account_a).exists() is (expected == 200)
    assert SpendControlChange.objects.count() == (1 if expected == 200 else 0)
    if expected == 200:
        assert response.json() == {
            "monthly_cap": "500.00",
            "monthly_cap_outcomes": None,
            "alert_thresholds": [50, 90],
            "at_cap": "pause",
        }


def test_another_accounts_controls_are_not_found(account_a, account_b):
    client = key_client(account_b, Role.FINANCE_ADMIN)
    for method in ("get", "put"):
        response = getattr(client, method)(
            f"/api/v1/accounts/{account_a.external_id}/spend-controls",
            {"monthly_cap": "1.00"},
            content_type="application/json",
        )
        assert response.status_code == 404
    assert client.get(f"/api/v1/accounts/{account_a.external_id}/status").status_code == 404
    assert not SpendControl.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"monthly_cap": "-5.00"}, "monthly_cap"),
        ({"monthly_cap": "lots"}, "monthly_cap"),
        ({"monthly_cap": 12.5}, "monthly_cap"),
        ({"monthly_cap": "1.005"}, "monthly_cap"),
        ({"monthly_cap_outcomes": -1}, "monthly_cap_outcomes"),
        # Beyond what the column (a PostgreSQL integer) holds: once a server error.
        ({"monthly_cap_outcomes": 2147483648}, "monthly_cap_outcomes"),
        ({"monthly_cap_outcomes": 10**30}, "monthly_cap_outcomes"),
        ({"monthly_cap": "1000000000000"}, "monthly_cap"),
        ({"monthly_cap": " 5.00"}, "monthly_cap"),
        ({"monthly_cap": "5e2"}, "monthly_cap"),
        ({"alert_thresholds": [2**63]}, "alert_thresholds.0"),
        ({"alert_thresholds": [0, 50]}, "alert_thresholds.0"),
        ({"alert_thresholds": [50, 101]}, "alert_thresholds.1"),
        ({"alert_thresholds": [50, 50]}, "alert_thresholds"),
        ({"at_cap": "stop"}, "at_cap"),
    ],
)
def test_bad_controls_are_refused_with_the_field_named(vendor_client, account_a, body, field):
    response = vendor_client.put(
        f"/api/v1/accounts/{account_a.external_id}/spend-controls", body, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not SpendControl.objects.exists()


def test_every_change_is_logged_old_to_new(account_a, vendor_client):
    url = f"/api/v1/accounts/{account_a.external_id}/spend-controls"
    vendor_client.put(url, {"monthly_cap": "100.00"}, content_type="application/json")
    vendor_client.put(url, {"monthly_cap": "200.00", "at_cap": "allow_overage"}, content_type="application/json")
    last = SpendControlChange.objects.first()
    assert (last.old["monthly_cap"], last.new["monthly_cap"]) == ("100.00", "200.00")
    assert (last.old["at_cap"], last.new["at_cap"]) == ("pause", "allow_overage")
    assert last.changed_by == "key:test vendor"


# --- Webhooks ---------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[tuple[object, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers, body))  # header names are case-insensitive
        self.send_response(type(self).answers.pop(0))
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.answers, _Receiver.received = [], []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_signature_round_trip_and_tampering():
    header = webhook_signature("s3cret", b'{"a":1}', 1_700_000_000)
    assert webhook_signature_verify("s3cret", header, b'{"a":1}', now=1_700_000_010)
    assert not webhook_signature_verify("s3cret", header, b'{"a":2}', now=1_700_000_010)
    assert not webhook_signature_verify("other", header, b'{"a":1}', now=1_700_000_010)
    assert not webhook_signature_verify("s3cret", header, b'{"a":1}', now=1_700_001_000)  # stale


def test_threshold_webhook_is_signed_retried_with_backoff_and_logged(capped, receiver, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    # The receiver listens on this machine: allowed as an operator allows an on-premises one.
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOWED_HOSTS = True, ["127.0.0.1"]
    _Receiver.answers = [500, 200]
    endpoint = webhook_endpoint_create(account=capped, url=f"http://127.0.0.1:{receiver.server_port}/hook")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("django.db.transaction.on_commit", lambda fn, *a, **k: None)  # deliver by hand below
        post(capped, 2)  # 1.98 of 2.97 = 66 %: the 50 % threshold
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event_type, delivery.payload["threshold"]) == ("spend.threshold_reached", 50)
    now = timezone.now()
    assert webhooks_deliver_due(now=now) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("pending", 1, now + timedelta(seconds=30))
    assert webhooks_deliver_due(now=now + timedelta(seconds=10)) == 0  # not due yet
    assert webhooks_deliver_due(now=now + timedelta(seconds=30)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert list(WebhookAttempt.objects.values_list("status_code", flat=True)) == [500, 200]
    headers, body = _Receiver.received[-1]
    assert webhook_signature_verify(
        endpoint.secret, headers["Outcomeportal-Signature"], body, now=(now + timedelta(seconds=30)).timestamp()
    )


def test_unreachable_receiver_never_blocks_ingestion(capped, settings):
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOWED_HOSTS = True, ["127.0.0.1"]
    webhook_endpoint_create(account=capped, url="http://127.0.0.1:9/nothing-listens")
    result = post(capped, 2)
    assert result.accepted == 2
    assert WebhookDelivery.objects.get().status == "pending"


# --- The page ------------------------------------------------------------------------------------


def login(account, role):
    client = Client()
    client.force_login(factories.make_user(role, account))
    return client


def test_finance_admin_sets_a_cap_in_the_app(account_a, outcome_type):
    client = login(account_a, Role.FINANCE_ADMIN)
    page = client.get(f"/account/{account_a.external_id}/spend/")
    assert page.status_code == 200
    assert b"Save controls" in page.content
    response = client.post(
        f"/account/{account_a.external_id}/spend/controls",
        {"monthly_cap": "250", "alert_thresholds": "50, 80, 100", "at_cap": "pause"},
    )
    assert response.status_code == 302
    assert SpendControl.objects.get(account=account_a).monthly_cap == D("250")


def test_form_errors_name_the_field(account_a):
    client = login(account_a, Role.FINANCE_ADMIN)
    response = client.post(
        f"/account/{account_a.external_id}/spend/controls",
        {"monthly_cap": "-1", "alert_thresholds": "50, 50", "at_cap": "pause"},
    )
    assert response.status_code == 400
    assert b"Each threshold may appear once." in response.content
    assert not SpendControl.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monthly_cap_outcomes", "2147483648"),
        ("monthly_cap_outcomes", "99999999999999999999"),
        ("monthly_cap", "100000000000000"),
        ("monthly_cap", "99999999999999999"),
        ("alert_thresholds", "50, 99999999999999999999"),
    ],
)
def test_form_refuses_numbers_the_database_cannot_hold(account_a, field, value):
    client = login(account_a, Role.FINANCE_ADMIN)
    data = {"alert_thresholds": "50, 80, 100", "at_cap": "pause", field: value}
    response = client.post(f"/account/{account_a.external_id}/spend/controls", data)
    assert response.status_code == 400
    assert not SpendControl.objects.exists()


def test_the_database_refuses_a_negative_cap(account_a):
    from django.db import IntegrityError, transaction

    for values in ({"monthly_cap": D("-1")}, {"monthly_cap_outcomes": -1}):
        with pytest.raises(IntegrityError), transaction.atomic():
            SpendControl.objects.create(account=account_a, updated_at=timezone.now(), updated_by="t", **values)


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.VIEWER])
def test_other_roles_see_but_cannot_change(account_a, role):
    client = login(account_a, role)
    page = client.get(f"/account/{account_a.external_id}/spend/")
    assert page.status_code == 200
    assert b"Only finance admins can change spend controls." in page.content
    response = client.post(
        f"/account/{account_a.external_id}/spend/controls",
        {"monthly_cap": "1", "alert_thresholds": "50", "at_cap": "pause"},
    )
    assert response.status_code == 403
    assert not SpendControl.objects.exists()


def test_another_accounts_spend_page_is_not_found(account_a, account_b):
    client = login(account_b, Role.FINANCE_ADMIN)
    assert client.get(f"/account/{account_a.external_id}/spend/").status_code == 404
    assert client.post(f"/account/{account_a.external_id}/spend/controls", {"monthly_cap": "1"}).status_code == 404


def test_cap_preview_warns_below_current_spend(account_a, outcome_type):
    post(account_a, 3)
    client = login(account_a, Role.FINANCE_ADMIN)
    warn = client.get(f"/account/{account_a.external_id}/spend/preview?monthly_cap=2", HTTP_HX_REQUEST="true")
    assert b"pauses automation at once" in warn.content
    fine = client.get(f"/account/{account_a.external_id}/spend/preview?monthly_cap=200", HTTP_HX_REQUEST="true")
    assert b"pauses automation" not in fine.content


def test_dashboard_shows_spend_against_the_cap_once_capped(account_a, outcome_type):
    client = login(account_a, Role.FINANCE_ADMIN)
    assert "No cap" in client.get(f"/account/{account_a.external_id}/").content.decode()
    cap(account_a, "2.97")
    post(account_a, 4)
    page = client.get(f"/account/{account_a.external_id}/").content.decode()
    assert "Against the cap" in page and "No cap" not in page
    assert '<p class="value">$2.97</p>' in page  # the estimated invoice: three outcomes still pending
    assert "100.0%" in page and "Cap $2.97" in page
    assert "Paused:" in page


def test_outcomes_given_free_by_a_pilot_do_not_count_against_the_cap(account_a, outcome_type):
    from billing.services import contract_version_create

    first = timezone.now().date().replace(day=1).isoformat()
    contract_version_create(
        account=account_a,
        document={
            "effective_from": first,
            "prices": [{"outcome_type": "resolved_conversation", "model": "unit", "price": "0.99"}],
            "onboarding": {"starts": first, "training_days": 0, "pilot_free_outcomes": 2},
        },
    )
    cap(account_a, "1.98")  # two charged outcomes
    post(account_a, 4)  # two free (pilot), then two charged: exactly at the cap, none ruled out
    assert statuses(account_a) == [("non_billable", "pilot_free")] * 2 + [("pending", "")] * 2


@pytest.mark.parametrize("typed", ["NaN", "sNaN", "-Infinity", "1e999999", "abc", "-5"])
def test_cap_preview_of_something_that_is_not_a_cap_previews_nothing(account_a, outcome_type, typed):
    post(account_a, 1)
    client = login(account_a, Role.FINANCE_ADMIN)
    response = client.get(f"/account/{account_a.external_id}/spend/preview", {"monthly_cap": typed})
    assert response.status_code == 200
    assert b"pauses automation" not in response.content
