"""Delivery of invoices and credit notes: emails through Django's locmem backend with the PDF attached,
signed webhooks to a local receiver, failures retried and shown, never lost; nothing inside the
finalizing transaction."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import threading
from datetime import timedelta
from decimal import Decimal as D
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from pypdf import PdfReader

from accounts import outbound
from accounts import tasks as accounts_tasks
from accounts.access import Principal
from accounts.models import Role
from accounts.notify import webhook_endpoint_create
from accounts.services import account_billing_details_update
from billing import tasks as billing_tasks
from billing.delivery.models import Delivery
from billing.delivery.selectors import deliveries_list
from billing.delivery.services import (
    MAX_ATTEMPTS,
    credit_note_deliver,
    deliveries_retry_due,
    delivery_retry,
    invoice_deliver,
)
from billing.ingestion import outcomes_settle
from billing.services import credit_note_issue, invoice_finalize
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize
from tests.conftest import key_client

RES = "resolved_conversation"


class BrokenBackend(BaseEmailBackend):
    """A mail server that refuses every message."""

    def send_messages(self, messages):
        raise ConnectionRefusedError("[Errno 111] Connection refused")


@pytest.fixture(autouse=True)
def _locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SELLER_LEGAL_NAME = "Eximius AI Ltd"
    settings.SELLER_EMAIL = "billing@eximius.example"
    settings.PORTAL_BASE_URL = "https://billing.eximius.example"


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    account = factories.make_account("acme", name="Acme Support")
    account_billing_details_update(account=account, billing_emails=["ap@acme.example", "cfo@acme.example"])
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "0.99"}])
    post(account, 48)
    return account


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_finalizing_enqueues_delivery_after_commit_only(acme, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("billing.services.async_task", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invoice = settle_and_finalize(acme)
        assert queued == []  # nothing leaves inside the transaction
    assert len(callbacks) == 1
    assert queued == [("billing.tasks.invoice_deliver", invoice.pk)]
    assert mail.outbox == []  # sending is the worker's


def test_a_rolled_back_finalization_sends_nothing(acme, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("billing.services.async_task", lambda *args: queued.append(args))
    monkeypatch.setattr("billing.services._credits_post", _boom)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        settle_and_finalize(acme)
    assert queued == []


def _boom(*args, **kwargs):
    raise RuntimeError("killed while finalizing")


def test_the_invoice_is_emailed_to_each_billing_email_with_its_pdf(acme):
    invoice = settle_and_finalize(acme)
    planned = invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)

    assert (len(planned.emails), planned.webhooks) == (2, 0)
    assert sorted(m.to[0] for m in mail.outbox) == ["ap@acme.example", "cfo@acme.example"]
    message = mail.outbox[0]
    assert message.subject == "Invoice INV-000001 from Eximius AI Ltd — $47.52 due 4 Aug 2026 (net 30)"
    assert message.reply_to == ["billing@eximius.example"]
    assert "Amount due: $47.52" in message.body
    assert f"https://billing.eximius.example/account/acme/invoices/{invoice.pk}/" in message.body
    ((name, content, mimetype),) = message.attachments
    assert (name, mimetype) == ("INV-000001.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert "INV-000001" in pdf_text(content) and "$47.52" in pdf_text(content)
    rows = Delivery.objects.order_by("recipient")
    assert list(rows.values_list("kind", "recipient", "status", "attempts", "event")) == [
        ("email", "ap@acme.example", "sent", 1, "invoice.finalized"),
        ("email", "cfo@acme.example", "sent", 1, "invoice.finalized"),
    ]
    # Twice (a rerun, a second worker): nothing is sent twice.
    invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)
    assert (len(mail.outbox), Delivery.objects.count()) == (2, 2)


def test_without_billing_emails_the_admins_get_it(acme):
    account_billing_details_update(account=acme, billing_emails=[])
    for role, name in ((Role.CUSTOMER_ADMIN, "alice"), (Role.VIEWER, "victor")):
        user = factories.make_user(role, acme, name)
        user.email = f"{name}@acme.example"
        user.save(update_fields=["email"])
    invoice = settle_and_finalize(acme)
    invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)
    assert [m.to for m in mail.outbox] == [["alice@acme.example"]]


def test_a_failed_email_is_retried_with_backoff_then_shown_failed_never_lost(acme, settings):
    invoice = settle_and_finalize(acme)
    account_billing_details_update(account=acme, billing_emails=["ap@acme.example"])
    settings.EMAIL_BACKEND = "tests.billing.test_delivery.BrokenBackend"
    invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
        "pending",
        1,
        AFTER_JUNE + timedelta(minutes=1),
    )
    assert delivery.last_error == "ConnectionRefusedError: [Errno 111] Connection refused"
    assert deliveries_retry_due(now=AFTER_JUNE + timedelta(seconds=59)) == 0  # not due yet

    at = AFTER_JUNE
    for attempt in range(2, MAX_ATTEMPTS + 1):
        at = Delivery.objects.get().next_attempt_at
        assert deliveries_retry_due(now=at) == 1
        assert Delivery.objects.get().attempts == attempt
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert at == AFTER_JUNE + timedelta(minutes=1 + 2 + 4 + 8 + 16)
    assert deliveries_retry_due(now=at + timedelta(days=1)) == 0  # given up: shown, not retried forever

    # The vendor sees it and sends it again once the mail server is back.
    vendor = Client()
    vendor.force_login(factories.make_user(Role.VENDOR_OPERATOR, None, "olivia"))
    page = vendor.get("/vendor/deliveries/?status=failed").content.decode()
    assert "ConnectionRefusedError" in page and "Send again" in page
    api = Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}").get(f"/api/v1/deliveries?invoice={invoice.pk}")
    ((row,),) = [api.json()["results"]]
    assert (row["status"], row["attempts"], row["recipient"], row["invoice_number"]) == (
        "failed",
        6,
        "ap@acme.example",
        "INV-000001",
    )
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert vendor.post(f"/vendor/deliveries/{delivery.pk}/resend/").status_code == 302
    assert deliveries_retry_due() == 1
    assert (Delivery.objects.get().status, [m.to for m in mail.outbox]) == ("sent", [["ap@acme.example"]])


def test_only_a_failed_email_can_be_sent_again(acme):
    invoice = settle_and_finalize(acme)
    invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)
    with pytest.raises(ValueError, match="Only a failed delivery"):
        delivery_retry(delivery=Delivery.objects.first())


# --- Webhooks, through a local receiver ---------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append({"signature": self.headers["OutcomePortal-Signature"], "body": body,
                                    "event": self.headers["OutcomePortal-Event"]})  # fmt: skip
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings, monkeypatch):
    settings.WEBHOOK_ALLOW_HTTP, settings.WEBHOOK_ALLOWED_HOSTS = True, ["hooks.acme.example"]
    monkeypatch.setattr(outbound, "resolve_host", lambda host, port: ["127.0.0.1"])
    # The worker, here and now: each delivery task runs as soon as its transaction commits.
    monkeypatch.setattr("accounts.notify.async_task", lambda func, *args: _run(func, *args))
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _run(func: str, *args):
    assert func == "accounts.tasks.webhook_deliver"
    return accounts_tasks.webhook_deliver(*args)


def _verified(hit: dict, secret: str) -> dict:
    parts = dict(item.split("=", 1) for item in hit["signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + hit["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, parts["v1"])
    return json.loads(hit["body"])


def test_invoice_finalized_webhook_is_signed_and_logged(acme, receiver, django_capture_on_commit_callbacks):
    endpoint = webhook_endpoint_create(account=acme, url=f"http://hooks.acme.example:{receiver.server_port}/in")
    invoice = settle_and_finalize(acme)
    with django_capture_on_commit_callbacks(execute=True):
        planned = invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)
    assert planned.webhooks == 1
    ((hit,),) = [_Receiver.received]
    body = _verified(hit, endpoint.secret)
    assert (hit["event"], body["type"], body["id"]) == ("invoice.finalized", "invoice.finalized",
                                                        f"invoice.finalized:invoice:{invoice.pk}")  # fmt: skip
    assert {k: body["data"]["invoice"][k] for k in ("number", "account", "amount_due", "payment_status")} == {
        "number": "INV-000001",
        "account": "acme",
        "amount_due": "47.52",
        "payment_status": "open",
    }
    rows = {(r.kind, r.status) for r in deliveries_list(principal=_vendor(), invoice=invoice)}
    assert rows == {("email", "sent"), ("webhook", "sent")}


def test_credit_notes_are_documents_of_their_own_emailed_and_announced(
    acme, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    endpoint = webhook_endpoint_create(account=acme, url=f"http://hooks.acme.example:{receiver.server_port}/in")
    invoice = settle_and_finalize(acme)
    queued = []
    monkeypatch.setattr("billing.invoices.credit_notes.async_task", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        note = credit_note_issue(account=acme, amount=D("5.00"), reason="Goodwill", invoice_id=invoice.pk)
    assert queued == [("billing.tasks.credit_note_deliver", note.pk)]
    with django_capture_on_commit_callbacks(execute=True):
        credit_note_deliver(credit_note_id=note.pk, now=AFTER_JUNE)

    assert sorted(m.to[0] for m in mail.outbox) == ["ap@acme.example", "cfo@acme.example"]
    message = mail.outbox[0]
    assert message.subject == "Credit note CN-000001 from Eximius AI Ltd"
    ((name, content, _),) = message.attachments
    text = pdf_text(content)
    assert name == "CN-000001.pdf"
    assert "CREDIT NOTE" in text and "INV-000001" in text and "-$5.00" in text and "Goodwill" in text
    ((hit,),) = [_Receiver.received]
    body = _verified(hit, endpoint.secret)
    assert (body["type"], body["data"]["credit_note"]["number"], body["data"]["credit_note"]["amount"]) == (
        "credit_note.issued",
        "CN-000001",
        "5.00",
    )


def _vendor():
    return Principal(role="vendor", account_id=None, label="vendor")


def test_deliveries_are_the_vendors(acme):
    invoice = settle_and_finalize(acme)
    invoice_deliver(invoice_id=invoice.pk, now=AFTER_JUNE)
    for role in (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER):
        response = key_client(acme, role).get(f"/api/v1/deliveries?invoice={invoice.pk}")
        assert response.status_code == 403
    customer = Client()
    customer.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    assert customer.get("/vendor/deliveries/").status_code == 403
    assert customer.post(f"/vendor/deliveries/{Delivery.objects.first().pk}/resend/").status_code == 403
    assert "Deliveries" not in customer.get(f"/account/acme/invoices/{invoice.pk}/").content.decode()


def test_a_finalized_invoice_built_by_the_job_is_delivered(acme, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("billing.services.async_task", lambda *args: queued.append(args))
    outcomes_settle(now=AFTER_JUNE)
    with django_capture_on_commit_callbacks(execute=True):
        done = invoice_finalize(account=acme, period="2026-06", now=AFTER_JUNE)
    for func, invoice_id in queued:
        assert func == "billing.tasks.invoice_deliver"
        billing_tasks.invoice_deliver(invoice_id)
    assert queued == [("billing.tasks.invoice_deliver", done.invoice.pk)]
    assert len(mail.outbox) == 2


def test_customers_download_their_credit_notes_and_not_anothers(acme):
    invoice = settle_and_finalize(acme)
    note = credit_note_issue(account=acme, amount=D("5.00"), reason="Goodwill", invoice_id=invoice.pk)
    other = factories.make_account("globex", name="Globex")
    mine, theirs = Client(), Client()
    mine.force_login(factories.make_user(Role.VIEWER, acme))
    theirs.force_login(factories.make_user(Role.CUSTOMER_ADMIN, other))

    listing = mine.get("/account/acme/invoices/").content.decode()
    assert "CN-000001" in listing and f"/account/acme/credit-notes/{note.pk}.pdf" in listing
    response = mine.get(f"/account/acme/credit-notes/{note.pk}.pdf")
    assert (response.status_code, response["Content-Type"]) == (200, "application/pdf")
    text = pdf_text(response.content)
    assert "CREDIT NOTE" in text and "CN-000001" in text and "INV-000001" in text and "-$5.00" in text
    assert theirs.get(f"/account/acme/credit-notes/{note.pk}.pdf").status_code == 404
    assert theirs.get(f"/account/globex/credit-notes/{note.pk}.pdf").status_code == 404
