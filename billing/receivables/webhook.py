"""A payment processor's signed webhook: ``POST /api/v1/payments/webhook``.

The contract (docs/billing.md "Payments from a processor"):

* header ``OutcomePortal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` with
  the ``PAYMENT_WEBHOOK_SECRET`` — the same scheme the portal signs its own webhooks with;
* the timestamp within ``PAYMENT_WEBHOOK_TOLERANCE_SECONDS`` (300) of now, either way;
* body ``{"id", "type": "invoice.paid", "data": {"invoice_number", "amount", "paid_at"}}``;
* each event ``id`` is processed once: the same id again is a replay, refused (409);
* the invoice is found by its number; the payment is recorded with the reference
  ``<processor event id>``, so the processor's retries and the API cannot record it twice.

Every refusal is a 4xx with nothing changed: the event row, the payment and the invoice are
written in one transaction, after every check.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.notify import webhook_signature_verify
from billing.invoices.models import Invoice
from billing.receivables.models import PaymentSource, PaymentWebhookEvent
from billing.receivables.services import PaymentRefused, Recorded, invoice_payment_record, payment_amount_parse
from outcomeportal.core.money import minor_units
from outcomeportal.core.times import rfc3339_parse

SIGNATURE_HEADER = "OutcomePortal-Signature"
INVOICE_PAID = "invoice.paid"


class WebhookRefused(Exception):
    def __init__(self, status: int, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.fields = status, code, fields


@dataclass(frozen=True)
class Received:
    event_id: str
    type: str
    recorded: Recorded | None  # None: an event type the portal does not act on (acknowledged)


def payment_webhook_receive(*, body: bytes, signature: str, now: datetime | None = None) -> Received:
    """Verify, parse and apply one processor event; :class:`WebhookRefused` (4xx) otherwise."""
    now = now or timezone.now()
    _verify(secret=settings.PAYMENT_WEBHOOK_SECRET, header=SIGNATURE_HEADER, signature=signature, body=body, now=now)
    event_id, kind, data = _shape(_json(body))
    paid_at = rfc3339_parse(data.get("paid_at"))
    return _apply(
        event_id=event_id, kind=kind, number=data.get("invoice_number"), amount=data.get("amount"), paid_at=paid_at,
        currency=None, now=now,
    )  # fmt: skip


# Stripe: the same HMAC-SHA256 scheme under its own header, and its own event shape. Events that pay
# something, and where their amount is (in the currency's minor units).
STRIPE_SIGNATURE_HEADER = "Stripe-Signature"
STRIPE_PAID = {
    "invoice.paid": "amount_paid",
    "checkout.session.completed": "amount_total",
    "payment_intent.succeeded": "amount_received",
}
STRIPE_METADATA_KEY = "outcomeportal_invoice"  # where the portal's invoice number rides on the Stripe object


def stripe_webhook_receive(*, body: bytes, signature: str, now: datetime | None = None) -> Received:
    """A Stripe event, verified with ``STRIPE_WEBHOOK_SECRET``; a paying event records a payment of the
    invoice named in the object's ``metadata.outcomeportal_invoice``, like ``invoice.paid`` above."""
    now = now or timezone.now()
    _verify(
        secret=settings.STRIPE_WEBHOOK_SECRET, header=STRIPE_SIGNATURE_HEADER, signature=signature, body=body, now=now
    )
    event = _json(body)
    event_id, kind, data = _shape(event)
    obj = data.get("object") if isinstance(data.get("object"), dict) else {}
    if kind not in STRIPE_PAID or (kind == "checkout.session.completed" and obj.get("payment_status") != "paid"):
        return _apply(event_id=event_id, kind=kind, number=None, amount=None, paid_at=None, currency=None, now=now)
    currency = obj.get("currency").upper() if isinstance(obj.get("currency"), str) else ""
    minor = obj.get(STRIPE_PAID[kind])
    amount = None
    if isinstance(minor, int) and not isinstance(minor, bool) and currency:
        amount = f"{Decimal(minor).scaleb(-minor_units(currency)):f}"
    stamp = (obj.get("status_transitions") or {}).get("paid_at") or event.get("created")
    paid_at = datetime.fromtimestamp(stamp, tz=UTC) if isinstance(stamp, int) else None
    number = (obj.get("metadata") or {}).get(STRIPE_METADATA_KEY)
    return _apply(
        event_id=event_id, kind=INVOICE_PAID, number=number, amount=amount, paid_at=paid_at, currency=currency,
        now=now, original_type=kind,
    )  # fmt: skip


def _verify(*, secret: str, header: str, signature: str, body: bytes, now: datetime) -> None:
    if not secret:
        raise WebhookRefused(403, "webhook_not_configured", "This portal accepts no payment webhooks (no secret set).")
    if not signature or not webhook_signature_verify(
        secret, signature, body, tolerance=settings.PAYMENT_WEBHOOK_TOLERANCE_SECONDS, now=now.timestamp()
    ):
        raise WebhookRefused(400, "invalid_signature", f"The {header} header does not sign this body, or is too old.")


def _json(body: bytes) -> object:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise WebhookRefused(400, "validation_error", "The body is not JSON.") from exc


def _apply(
    *, event_id: str, kind: str, number: object, amount: object, paid_at: datetime | None, currency: str | None,
    now: datetime, original_type: str | None = None,
) -> Received:  # fmt: skip
    """Apply a verified event: once per id; ``invoice.paid`` records a payment of the invoice ``number``."""
    if PaymentWebhookEvent.objects.filter(event_id=event_id).exists():
        raise WebhookRefused(409, "replayed_event", f"Event {event_id!r} was processed already.")
    if kind != INVOICE_PAID:
        _remember(event_id, kind, now, payment=None)  # acknowledged, so the processor stops sending it
        return Received(event_id=event_id, type=kind, recorded=None)
    invoice = (
        Invoice.objects.filter(number=number).select_related("account").first() if isinstance(number, str) else None
    )
    if invoice is None:
        raise WebhookRefused(404, "unknown_invoice", f"No invoice numbered {number!r}.")
    if currency and currency != invoice.currency:
        raise WebhookRefused(
            409, "currency_mismatch", f"Paid in {currency}; {invoice.number} is in {invoice.currency}."
        )
    try:
        parsed = payment_amount_parse(value=amount, currency=invoice.currency)
        if paid_at is None:
            raise PaymentRefused("validation_error", "An RFC 3339 time with its offset.", "paid_at")
        with transaction.atomic():
            recorded = invoice_payment_record(
                invoice=invoice, amount=parsed, paid_at=paid_at, reference=event_id, source=PaymentSource.WEBHOOK,
                created_by="payment webhook", now=now,
            )  # fmt: skip
            _remember(event_id, original_type or kind, now, payment=recorded.payment)
    except PaymentRefused as exc:
        fields = {f"data.{exc.field}": [str(exc)]} if exc.field else None
        status = 400 if exc.code == "validation_error" else 409
        raise WebhookRefused(status, exc.code, str(exc), fields) from exc
    return Received(event_id=event_id, type=original_type or kind, recorded=recorded)


def _shape(event: object) -> tuple[str, str, dict]:
    if not isinstance(event, dict):
        raise WebhookRefused(400, "validation_error", "A JSON object with id, type and data.")
    event_id, kind, data = event.get("id"), event.get("type"), event.get("data")
    fields = {}
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
        fields["id"] = ["The processor's event id (a string)."]
    if not isinstance(kind, str) or not kind:
        fields["type"] = ["The event type, e.g. invoice.paid."]
    if not isinstance(data, dict):
        fields["data"] = ["An object."]
    if fields:
        raise WebhookRefused(400, "validation_error", "The event has invalid fields.", fields)
    return event_id, kind, data


def _remember(event_id: str, kind: str, now: datetime, *, payment) -> None:
    try:
        with transaction.atomic():
            PaymentWebhookEvent.objects.create(event_id=event_id, type=kind[:64], received_at=now, payment=payment)
    except IntegrityError as exc:  # the same event delivered twice at once: the second is the replay
        raise WebhookRefused(409, "replayed_event", f"Event {event_id!r} was processed already.") from exc
