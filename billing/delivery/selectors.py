"""Reading deliveries: by invoice or account, each webhook row with its live status from accounts' log."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.access import Principal
from accounts.models import WebhookDelivery
from billing.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from billing.invoices.models import Invoice


def deliveries_visible_to(*, principal: Principal) -> QuerySet[Delivery]:
    """Deliveries are the vendor's: everyone's to vendor staff and the vendor key, nobody's to customers."""
    qs = Delivery.objects.select_related("account", "invoice", "credit_note")
    return qs if principal.is_vendor else qs.none()


def deliveries_list(*, principal: Principal, invoice: Invoice | None = None, account_id: int | None = None,
                    status: str | None = None, limit: int = 500) -> list[Delivery]:  # fmt: skip
    qs = deliveries_visible_to(principal=principal)
    if invoice is not None:
        qs = qs.filter(account_id=invoice.account_id, invoice=invoice)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = delivery_rows_attach_webhooks(list(qs.order_by("-created_at", "-id")[:limit]))
    if status:
        rows = [r for r in rows if r.status == status]
    return rows


def deliveries_for_invoice(*, invoice: Invoice) -> list[Delivery]:
    """The invoice's deliveries (and those of credit notes on it), each webhook with its live status."""
    rows = list(Delivery.objects.filter(account_id=invoice.account_id, invoice=invoice).order_by("created_at", "id"))
    return delivery_rows_attach_webhooks(rows)


def delivery_rows_attach_webhooks(rows: list[Delivery]) -> list[Delivery]:
    """Fill each webhook row's status, attempts and last error from accounts' delivery log."""
    ids = [r.webhook_delivery_id for r in rows if r.webhook_delivery_id]
    hooks = {h.pk: h for h in WebhookDelivery.objects.filter(pk__in=ids).prefetch_related("attempt_log")}
    shown = {"pending": DeliveryStatus.PENDING, "delivered": DeliveryStatus.SENT, "failed": DeliveryStatus.FAILED}
    for row in rows:
        if row.kind != DeliveryKind.WEBHOOK:
            continue
        hook = hooks.get(row.webhook_delivery_id)
        if hook is None:  # the endpoint was removed, with its log
            row.status, row.last_error = DeliveryStatus.FAILED, "The webhook endpoint was removed."
            continue
        attempts = list(hook.attempt_log.all())
        row.status, row.attempts = shown[hook.status], hook.attempts
        row.sent_at, row.next_attempt_at = hook.delivered_at, hook.next_attempt_at
        row.last_error = attempts[-1].error if attempts and hook.status != "delivered" else ""
    return rows
