"""Payment status: open → paid by parts, uncollectible, void; payments over the API and from a processor's
signed webhook; overdue reminders, each once; what customers and the vendor see."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.core import mail
from django.db import DatabaseError, transaction
from django.test import Client

from accounts.models import Role
from accounts.services import account_billing_details_update
from billing.invoices.corrections import invoice_void
from billing.invoices.models import Invoice
from billing.receivables.models import InvoiceReminder, Payment, PaymentStatusChange, PaymentWebhookEvent
from billing.receivables.selectors import age_bucket, receivables
from billing.receivables.services import PaymentRefused, invoice_payment_record, reminders_send
from billing.services import invoice_draft_refresh
from tests import factories
from tests.billing.helpers import AFTER_JUNE, contract, post, settle_and_finalize
from tests.conftest import key_client

RES = "resolved_conversation"
DUE = AFTER_JUNE + timedelta(days=30)  # net 30
SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PAYMENT_WEBHOOK_SECRET = SECRET
    settings.PAYMENT_REMINDER_DAYS = [1, 7, 14]


@pytest.fixture
def acme(db):
    factories.make_outcome_type()
    account = factories.make_account("acme", name="Acme Support")
    account_billing_details_update(account=account, billing_emails=["ap@acme.example"])
    contract(account, prices=[{"outcome_type": RES, "model": "unit", "price": "1.00"}])
    post(account, 100)
    return account


@pytest.fixture
def invoice(acme):
    return settle_and_finalize(acme)  # INV-000001, 100.00 due 4 Aug 2026


@pytest.fixture
def vendor():
    return Client(HTTP_AUTHORIZATION=f"Bearer {factories.vendor_key()}")


def pay(client, invoice, amount, reference, paid_at="2026-07-20T09:30:00Z"):
    return client.post(
        f"/api/v1/invoices/{invoice.pk}/payments",
        {"amount": amount, "paid_at": paid_at, "reference": reference},
        content_type="application/json",
    )


def state(invoice):
    invoice.refresh_from_db()
    return invoice.payment_status, invoice.amount_paid, invoice.amount_due


def test_open_to_paid_by_parts(invoice, vendor):
    assert state(invoice) == ("open", D("0"), D("100.00"))

    first = pay(vendor, invoice, "40.00", "BANK-1", "2026-07-20T09:30:00Z")
    assert first.status_code == 201, first.content
    assert first.json()["payment"] | {"id": 0, "created_at": ""} == {
        "id": 0, "invoice_id": invoice.pk, "amount": "40.00", "currency": "USD", "paid_at": "2026-07-20T09:30:00Z",
        "reference": "BANK-1", "source": "api", "created_at": "",
    }  # fmt: skip
    body = first.json()["invoice"]
    assert (body["payment_status"], body["amount_paid"], body["amount_due"]) == ("open", "40.00", "60.00")
    assert state(invoice) == ("open", D("40.00"), D("60.00"))

    second = pay(vendor, invoice, "60.00", "BANK-2", "2026-07-25T12:00:00+02:00")
    assert second.status_code == 201
    assert state(invoice) == ("paid", D("100.00"), D("0"))
    assert invoice.paid_at == datetime(2026, 7, 25, 10, tzinfo=UTC)  # the payment that completed it
    assert list(PaymentStatusChange.objects.values_list("from_status", "to_status")) == [("open", "paid")]
    assert sum(Payment.objects.filter(invoice=invoice).values_list("amount", flat=True)) == invoice.amount_paid
    # Nothing left to pay: a further payment is refused and changes nothing.
    third = pay(vendor, invoice, "1.00", "BANK-3")
    assert (third.status_code, third.json()["error"]["code"]) == (409, "invoice_not_payable")
    assert Payment.objects.count() == 2


def test_payments_are_idempotent_by_reference(invoice, vendor):
    assert pay(vendor, invoice, "40.00", "BANK-1").status_code == 201
    again = pay(vendor, invoice, "40.00", "BANK-1")
    assert again.status_code == 200
    assert state(invoice) == ("open", D("40.00"), D("60.00"))
    conflict = pay(vendor, invoice, "41.00", "BANK-1")
    assert conflict.status_code == 409
    assert conflict.json()["error"] == {
        "code": "payment_reference_conflict",
        "message": "Reference 'BANK-1' is already recorded on INV-000001 for 40.0000.",
        "fields": {"reference": ["Reference 'BANK-1' is already recorded on INV-000001 for 40.0000."]},
    }
    assert (Payment.objects.count(), state(invoice)) == (1, ("open", D("40.00"), D("60.00")))


@pytest.mark.parametrize(
    ("amount", "paid_at", "status", "code", "field"),
    [
        ("100.01", "2026-07-20T09:30:00Z", 409, "payment_exceeds_amount_due", "amount"),
        ("10.001", "2026-07-20T09:30:00Z", 400, "validation_error", "amount"),
        ("0", "2026-07-20T09:30:00Z", 400, "validation_error", "amount"),
        ("-5.00", "2026-07-20T09:30:00Z", 400, "validation_error", "amount"),
        ("ten", "2026-07-20T09:30:00Z", 400, "validation_error", "amount"),
        ("10.00", "2126-07-20T09:30:00Z", 400, "validation_error", "paid_at"),
        ("10.00", "2026-07-20 09:30", 400, "validation_error", "paid_at"),
    ],
)
def test_bad_payments_are_refused_and_change_nothing(invoice, vendor, amount, paid_at, status, code, field):
    response = pay(vendor, invoice, amount, "BANK-X", paid_at)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert field in response.json()["error"]["fields"]
    assert (Payment.objects.count(), state(invoice)) == (0, ("open", D("0"), D("100.00")))


def test_a_draft_cannot_be_paid(acme, vendor):
    draft = invoice_draft_refresh(account=acme, period="2026-07", now=AFTER_JUNE)
    response = pay(vendor, draft, "1.00", "BANK-1")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "invoice_not_final")


def test_open_to_uncollectible_and_a_late_payment_still_pays_it(invoice, vendor):
    response = vendor.post(
        f"/api/v1/invoices/{invoice.pk}/uncollectible",
        {"reason": "Customer insolvent"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert (response.json()["payment_status"], response.json()["amount_due"]) == ("uncollectible", "100.00")
    again = vendor.post(f"/api/v1/invoices/{invoice.pk}/uncollectible", {}, content_type="application/json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "payment_status_refused")

    assert pay(vendor, invoice, "100.00", "LIQUIDATOR-1").status_code == 201
    assert state(invoice) == ("paid", D("100.00"), D("0"))
    assert list(PaymentStatusChange.objects.values_list("from_status", "to_status", "reason")) == [
        ("open", "uncollectible", "Customer insolvent"),
        ("uncollectible", "paid", "Paid in full (LIQUIDATOR-1)"),
    ]


def test_a_void_invoice_owes_nothing_and_takes_no_payment(invoice, vendor):
    invoice_void(invoice=invoice, reason="Issued to the wrong entity")
    assert state(invoice) == ("void", D("0"), D("0"))
    response = pay(vendor, invoice, "1.00", "BANK-1")
    assert (response.status_code, response.json()["error"]["code"]) == (409, "invoice_not_payable")
    assert list(PaymentStatusChange.objects.values_list("from_status", "to_status")) == [("open", "void")]


def test_payments_and_status_moves_are_append_only(invoice):
    recorded = invoice_payment_record(invoice=invoice, amount=D("10.00"), paid_at=AFTER_JUNE, reference="B-1")
    for qs in (Payment.objects.filter(pk=recorded.payment.pk),):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            qs.update(amount=D("1.00"))
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            qs.delete()


@pytest.mark.parametrize("role", [Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN, Role.VIEWER])
def test_customer_keys_cannot_record_payments(invoice, acme, role):
    client = key_client(acme, role)
    assert pay(client, invoice, "100.00", "BANK-1").status_code == 403
    assert client.post(f"/api/v1/invoices/{invoice.pk}/uncollectible").status_code == 403
    assert (Payment.objects.count(), state(invoice)) == (0, ("open", D("0"), D("100.00")))


# --- The processor's signed webhook -------------------------------------------------------------------


def signed(body: dict, *, secret: str = SECRET, at: datetime | None = None) -> tuple[bytes, str]:
    raw = json.dumps(body).encode()
    t = int((at or datetime.now(UTC)).timestamp())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + raw, hashlib.sha256).hexdigest()
    return raw, f"t={t},v1={mac}"


def paid_event(event_id="evt_1", number="INV-000001", amount="100.00"):
    return {"id": event_id, "type": "invoice.paid",
            "data": {"invoice_number": number, "amount": amount, "paid_at": "2026-07-21T08:00:00Z"}}  # fmt: skip


def deliver(raw: bytes, signature: str | None):
    headers = {"HTTP_OUTCOMEPORTAL_SIGNATURE": signature} if signature is not None else {}
    return Client().post("/api/v1/payments/webhook", raw, content_type="application/json", **headers)


def nothing_changed(invoice) -> bool:
    return (Payment.objects.count(), PaymentWebhookEvent.objects.count(), state(invoice)) == (
        0,
        0,
        ("open", D("0"), D("100.00")),
    )


def test_a_signed_invoice_paid_event_records_the_payment(invoice):
    response = deliver(*signed(paid_event()))
    assert response.status_code == 200, response.content
    assert response.json()["invoice"] == {
        "number": "INV-000001",
        "payment_status": "paid",
        "amount_paid": "100.00",
        "amount_due": "0.00",
    }
    payment = Payment.objects.get()
    assert (payment.reference, payment.source, payment.paid_at) == (
        "evt_1",
        "webhook",
        datetime(2026, 7, 21, 8, tzinfo=UTC),
    )
    assert state(invoice) == ("paid", D("100.00"), D("0"))


def test_a_replayed_event_is_refused_and_changes_nothing(invoice):
    raw, signature = signed(paid_event(amount="30.00"))
    assert deliver(raw, signature).status_code == 200
    replay = deliver(raw, signature)
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "replayed_event")
    # The same event id re-signed later: still a replay.
    again = deliver(*signed(paid_event(amount="30.00")))
    assert again.status_code == 409
    assert (Payment.objects.count(), state(invoice)) == (1, ("open", D("30.00"), D("70.00")))


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("wrong secret", 400, "invalid_signature"),
        ("body changed", 400, "invalid_signature"),
        ("no header", 400, "invalid_signature"),
        ("garbage header", 400, "invalid_signature"),
        ("stale", 400, "invalid_signature"),
        ("from the future", 400, "invalid_signature"),
        ("unknown invoice", 404, "unknown_invoice"),
        ("bad amount", 400, "validation_error"),
        ("too much", 409, "payment_exceeds_amount_due"),
    ],
)
def test_refused_events_change_nothing(invoice, case, status, code):
    event = paid_event()
    raw, signature = signed(event)
    if case == "wrong secret":
        raw, signature = signed(event, secret="whsec_other")
    elif case == "body changed":
        raw = raw.replace(b"100.00", b"1.00")
    elif case == "no header":
        signature = None
    elif case == "garbage header":
        signature = "v1=deadbeef"
    elif case == "stale":
        raw, signature = signed(event, at=datetime.now(UTC) - timedelta(minutes=5, seconds=2))
    elif case == "from the future":
        raw, signature = signed(event, at=datetime.now(UTC) + timedelta(minutes=6))
    elif case == "unknown invoice":
        raw, signature = signed(paid_event(number="INV-999999"))
    elif case == "bad amount":
        raw, signature = signed(paid_event(amount="1e3"))
    elif case == "too much":
        raw, signature = signed(paid_event(amount="100.01"))
    response = deliver(raw, signature)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert nothing_changed(invoice)


def test_a_recent_timestamp_within_tolerance_is_accepted(invoice):
    response = deliver(*signed(paid_event(), at=datetime.now(UTC) - timedelta(minutes=4, seconds=50)))
    assert response.status_code == 200


def test_without_a_secret_the_webhook_takes_nothing(invoice, settings):
    raw, signature = signed(paid_event())
    settings.PAYMENT_WEBHOOK_SECRET = ""
    response = deliver(raw, signature)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "webhook_not_configured")
    assert nothing_changed(invoice)


def test_other_event_types_are_acknowledged_once(invoice):
    raw, signature = signed({"id": "evt_9", "type": "charge.refunded", "data": {}})
    response = deliver(raw, signature)
    assert response.status_code == 200
    assert response.json() == {"received": "evt_9", "type": "charge.refunded", "payment": None, "invoice": None}
    assert deliver(raw, signature).status_code == 409
    assert Payment.objects.count() == 0


# --- Overdue reminders --------------------------------------------------------------------------------


def reminders():
    return [(m.to, m.subject) for m in mail.outbox]


def test_reminders_go_out_1_7_14_days_after_due_each_once(invoice):
    assert reminders_send(now=DUE + timedelta(hours=23)) == 0  # not a day overdue yet
    assert reminders_send(now=DUE + timedelta(days=1)) == 1
    assert reminders_send(now=DUE + timedelta(days=1, hours=5)) == 0  # once
    assert reminders_send(now=DUE + timedelta(days=6)) == 0
    assert reminders_send(now=DUE + timedelta(days=7)) == 1
    assert reminders_send(now=DUE + timedelta(days=7)) == 0
    assert reminders_send(now=DUE + timedelta(days=14)) == 1
    assert reminders_send(now=DUE + timedelta(days=40)) == 0  # no step after 14
    subject = "Reminder: invoice INV-000001 is overdue — $100.00 due since 4 Aug 2026 (net 30)"
    assert reminders() == [(["ap@acme.example"], subject)] * 3
    assert all(m.attachments[0][0] == "INV-000001.pdf" for m in mail.outbox)
    assert sorted(InvoiceReminder.objects.values_list("days_overdue", "sent")) == [(1, True), (7, True), (14, True)]


def test_a_paid_invoice_gets_no_reminder(invoice):
    invoice_payment_record(invoice=invoice, amount=D("100.00"), paid_at=AFTER_JUNE, reference="B-1")
    assert reminders_send(now=DUE + timedelta(days=20)) == 0
    assert mail.outbox == []


def test_a_job_that_was_down_sends_only_the_latest_step(invoice):
    assert reminders_send(now=DUE + timedelta(days=15)) == 1
    assert len(mail.outbox) == 1
    assert sorted(InvoiceReminder.objects.values_list("days_overdue", "sent")) == [(1, False), (7, False), (14, True)]
    assert reminders_send(now=DUE + timedelta(days=16)) == 0


def test_a_partly_paid_reminder_asks_for_what_is_left(invoice):
    invoice_payment_record(invoice=invoice, amount=D("25.50"), paid_at=AFTER_JUNE, reference="B-1")
    reminders_send(now=DUE + timedelta(days=1))
    (message,) = mail.outbox
    assert "$74.50" in message.subject and "Amount due: $74.50" in message.body


# --- What people see ----------------------------------------------------------------------------------


def test_receivables_by_age(acme, invoice):
    other = factories.make_account("globex", name="Globex", currency="EUR")
    contract(other, prices=[{"outcome_type": RES, "model": "unit", "price": "2.00"}])
    post(other, 10, prefix="g")
    eur = settle_and_finalize(other)  # 20.00 EUR, same dates
    invoice_payment_record(invoice=invoice, amount=D("40.00"), paid_at=AFTER_JUNE, reference="B-1")

    before = receivables(now=DUE - timedelta(days=1))
    assert [(r.invoice.number, r.days_overdue, r.bucket) for r in before.rows] == [
        ("INV-000001", 0, "current"),
        ("INV-000002", 0, "current"),
    ]
    later = receivables(now=DUE + timedelta(days=45))
    assert later.overdue_count == 2
    assert later.by_currency == {
        "USD": {"current": D("0"), "1-30": D("0"), "31-60": D("60.00"), "61-90": D("0"), "90+": D("0")},
        "EUR": {"current": D("0"), "1-30": D("0"), "31-60": D("20.00"), "61-90": D("0"), "90+": D("0")},
    }
    assert eur.currency == "EUR"
    assert [age_bucket(days_overdue=d) for d in (0, 1, 30, 31, 60, 61, 90, 91)] == [
        "current", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+",
    ]  # fmt: skip


def test_customers_see_status_due_date_and_amount_due_not_the_forms(acme, invoice):
    invoice_payment_record(invoice=invoice, amount=D("40.00"), paid_at=AFTER_JUNE, reference="BANK-1")
    client = Client()
    client.force_login(factories.make_user(Role.CUSTOMER_ADMIN, acme))
    page = client.get(f"/account/acme/invoices/{invoice.pk}/").content.decode()
    assert 'data-payment-status="open"' in page
    assert "4 Aug 2026 (net 30)" in page and "$60.00" in page and "BANK-1" in page
    assert "Record payment" not in page and "Mark uncollectible" not in page
    listing = client.get("/account/acme/invoices/").content.decode()
    assert "Amount due" in listing and "$60.00" in listing and "due 4 Aug 2026" in listing
    # The forms' endpoints refuse a customer, and nothing changes.
    form = {"amount": "60.00", "paid_on": "2026-07-20", "reference": "SELF"}
    assert client.post(f"/vendor/invoices/{invoice.pk}/payments/", form).status_code == 403
    assert client.post(f"/vendor/invoices/{invoice.pk}/uncollectible/", {"reason": "x"}).status_code == 403
    assert client.get("/vendor/receivables/").status_code == 403
    assert state(invoice) == ("open", D("40.00"), D("60.00"))


def test_an_operator_records_a_payment_in_the_portal(acme, invoice):
    operator = Client()
    operator.force_login(factories.make_user(Role.VENDOR_OPERATOR, None, "olivia"))
    page = operator.get(f"/account/acme/invoices/{invoice.pk}/").content.decode()
    assert "Record payment" in page and "Mark uncollectible" in page
    form = {"amount": "100.00", "paid_on": "2026-07-20", "reference": "BANK-7"}
    response = operator.post(f"/vendor/invoices/{invoice.pk}/payments/", form, follow=True)
    assert "Invoice INV-000001 is paid; $0.00 due." in response.content.decode()
    payment = Payment.objects.get()
    assert (payment.source, payment.created_by, payment.paid_at) == (
        "operator",
        "olivia",
        datetime(2026, 7, 20, 12, tzinfo=UTC),
    )
    assert state(invoice) == ("paid", D("100.00"), D("0"))
    assert operator.get("/vendor/receivables/").status_code == 200


def test_support_staff_see_receivables_but_do_not_record_payments(acme, invoice):
    support = Client()
    support.force_login(factories.make_user(Role.VENDOR_SUPPORT, None, "sam"))
    assert support.get("/vendor/receivables/").status_code == 200
    form = {"amount": "100.00", "paid_on": "2026-07-20", "reference": "BANK-7"}
    assert support.post(f"/vendor/invoices/{invoice.pk}/payments/", form).status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == D("0")


def test_a_payment_refused_by_the_service_says_why(invoice):
    with pytest.raises(PaymentRefused, match=r"A payment cannot be dated in the future\."):
        invoice_payment_record(
            invoice=invoice, amount=D("1.00"), paid_at=datetime.now(UTC) + timedelta(hours=1), reference="B-1"
        )


# --- Stripe's own signature and event shape -------------------------------------------------------------

STRIPE_SECRET = "whsec_stripe_test"


def stripe_event(kind="invoice.paid", amount=10000, currency="usd", number="INV-000001", event_id="evt_1Stripe"):
    amount_field = {"invoice.paid": "amount_paid", "checkout.session.completed": "amount_total",
                    "payment_intent.succeeded": "amount_received"}.get(kind, "amount")  # fmt: skip
    return {
        "id": event_id, "object": "event", "type": kind, "created": 1785312000,
        "data": {"object": {amount_field: amount, "currency": currency, "payment_status": "paid",
                            "metadata": {"outcomeportal_invoice": number},
                            "status_transitions": {"paid_at": 1785225600}}},
    }  # fmt: skip


def stripe_deliver(body: dict, *, secret: str = STRIPE_SECRET):
    raw, signature = signed(body, secret=secret)
    return Client().post(
        "/api/v1/payments/stripe", raw, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature + ",v0=ignored"
    )


@pytest.fixture
def stripe(settings):
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET


@pytest.mark.parametrize("kind", ["invoice.paid", "checkout.session.completed", "payment_intent.succeeded"])
def test_a_stripe_payment_pays_the_invoice_in_its_metadata(invoice, stripe, kind):
    response = stripe_deliver(stripe_event(kind, amount=4050))
    assert response.status_code == 200, response.content
    assert response.json()["type"] == kind
    payment = Payment.objects.get()
    assert (payment.amount, payment.reference, payment.paid_at) == (
        D("40.50"),  # 4050 cents
        "evt_1Stripe",
        datetime.fromtimestamp(1785225600, tz=UTC),
    )
    assert state(invoice) == ("open", D("40.50"), D("59.50"))
    assert stripe_deliver(stripe_event(kind, amount=4050)).status_code == 409  # Stripe's retry: a replay


@pytest.mark.parametrize(
    ("body", "secret", "status", "code"),
    [
        (stripe_event(), "whsec_wrong", 400, "invalid_signature"),
        (stripe_event(number="INV-424242"), STRIPE_SECRET, 404, "unknown_invoice"),
        (stripe_event(currency="eur"), STRIPE_SECRET, 409, "currency_mismatch"),
        (stripe_event(amount=10001), STRIPE_SECRET, 409, "payment_exceeds_amount_due"),
    ],
)
def test_refused_stripe_events_change_nothing(invoice, stripe, body, secret, status, code):
    response = stripe_deliver(body, secret=secret)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert nothing_changed(invoice)


def test_an_unpaid_checkout_or_another_stripe_event_is_only_acknowledged(invoice, stripe):
    unpaid = stripe_event("checkout.session.completed")
    unpaid["data"]["object"]["payment_status"] = "unpaid"
    assert stripe_deliver(unpaid).json()["payment"] is None
    assert stripe_deliver(stripe_event("customer.created", event_id="evt_2")).json()["payment"] is None
    assert Payment.objects.count() == 0
