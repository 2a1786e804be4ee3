"""Telling an account's people: in-app notifications, email, and signed webhooks.

Services here record what must be said inside the caller's transaction; the sending
happens after commit, in the worker (django-q2, enqueued by dotted path), so a slow mail
server or a webhook receiver that times out never holds up ingestion or a page.

Webhook receivers are outgoing requests on behalf of a customer: their URLs go through
:mod:`accounts.outbound` (public addresses only, https, the checked address pinned for the
connection, no redirects, a deadline and a cap on the answer) when they are saved and again
before every delivery. The operator's settings ``WEBHOOK_ALLOW_HTTP`` and
``WEBHOOK_ALLOWED_HOSTS`` loosen that for development and on-premises receivers.

Webhook signature: header ``OutcomePortal-Signature: t=<unix seconds>,v1=<hex>`` where
``<hex>`` is HMAC-SHA256 with the endpoint's secret over ``"<t>." + raw body``. Receivers
verify it with :func:`webhook_signature_verify` (or the same three lines in any language)
and refuse stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from accounts import outbound
from accounts.models import Account, Notification, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint

MAX_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=30)  # then doubled: 30 s, 1 min, 2 min, 4 min, 8 min
TIMEOUT_SECONDS = 5  # each connect and each read
DEADLINE_SECONDS = 10  # the whole exchange: a receiver that trickles its answer is cut off
MAX_RESPONSE_BYTES = 64 * 1024  # of the answer's body, read and dropped: only the status matters
SIGNATURE_HEADER = "OutcomePortal-Signature"


def notification_send(
    *,
    account: Account | int,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    roles: Iterable[str] = (),
    email: bool = True,
    now: datetime | None = None,
) -> Notification:
    """Record an in-app notification and, after commit, email the account's people of ``roles``."""
    account_id = account if isinstance(account, int) else account.pk
    notification = Notification.objects.create(
        account_id=account_id, kind=kind, title=title, body=body, link=link, roles=list(roles),
        created_at=now or timezone.now(),
    )  # fmt: skip
    if email:
        transaction.on_commit(lambda: async_task("accounts.tasks.notification_email", notification.pk))
    return notification


def notification_email(*, notification_id: int) -> int:
    """Email a notification to its audience; returns the number of recipients."""
    notification = Notification.objects.select_related("account").filter(pk=notification_id).first()
    if notification is None:
        return 0
    users = User.objects.filter(account_id=notification.account_id, is_active=True).exclude(email="")
    if notification.roles:
        users = users.filter(role__in=notification.roles)
    recipients = sorted(set(users.values_list("email", flat=True)))
    if recipients:
        text = notification.body + (f"\n\n{notification.link}" if notification.link else "")
        send_mail(f"[{notification.account.name}] {notification.title}", text, settings.DEFAULT_FROM_EMAIL, recipients)
    return len(recipients)


def notifications_for(*, account_id: int, role: str):
    return Notification.objects.filter(account_id=account_id).filter(Q(roles=[]) | Q(roles__contains=[role]))


# --- Webhooks -----------------------------------------------------------------------------


class InvalidWebhookUrl(ValueError):
    pass


def webhook_target_check(*, url: str) -> outbound.Target:
    """The URL's target under the operator's outbound policy, or :class:`InvalidWebhookUrl` saying why not."""
    try:
        return outbound.target_check(
            url,
            allow_http=settings.WEBHOOK_ALLOW_HTTP,
            allow=outbound.AllowList.parse(settings.WEBHOOK_ALLOWED_HOSTS),
        )
    except outbound.RefusedUrl as exc:
        raise InvalidWebhookUrl(str(exc)) from exc


def webhook_endpoint_create(*, account: Account, url: str) -> WebhookEndpoint:
    """A new endpoint of ``account``; refuses (InvalidWebhookUrl) a URL the portal may not call."""
    url = url.strip()
    webhook_target_check(url=url)
    return WebhookEndpoint.objects.create(account=account, url=url, secret=secrets.token_hex(24))


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint, with its deliveries and their log (a delivery in flight is skipped)."""
    endpoint.delete()


def webhooks_enqueue(
    *, account_id: int, event_type: str, message_id: str, payload: dict, now: datetime | None = None
) -> list[int]:
    """One delivery per active endpoint of the account; idempotent per (endpoint, message_id)."""
    now = now or timezone.now()
    endpoints = list(WebhookEndpoint.objects.filter(account_id=account_id, active=True).values_list("pk", flat=True))
    if not endpoints:
        return []
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(endpoint_id=pk, event_type=event_type, message_id=message_id, payload=payload,
                            created_at=now, next_attempt_at=now)
            for pk in endpoints
        ],
        ignore_conflicts=True,
    )  # fmt: skip
    ids = list(
        WebhookDelivery.objects.filter(endpoint_id__in=endpoints, message_id=message_id, status="pending").values_list(
            "pk", flat=True
        )
    )
    for delivery_id in ids:
        transaction.on_commit(lambda delivery_id=delivery_id: async_task("accounts.tasks.webhook_deliver", delivery_id))
    return ids


def webhook_signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_signature_verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: float | None = None):
    """True when ``header`` signs ``body`` with ``secret`` and is not older than ``tolerance`` seconds."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = webhook_signature(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> str:
    """Try one delivery (if it is due and not already delivered); log the attempt; schedule a retry."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        if delivery is None:
            return "skipped"  # delivered already, given up, or another worker has it right now
        body = orjson.dumps({"id": delivery.message_id, "type": delivery.event_type, "data": delivery.payload})
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "OutcomePortal-Webhooks/1",
            SIGNATURE_HEADER: webhook_signature(delivery.endpoint.secret, body, timestamp),
            "OutcomePortal-Event": delivery.event_type,
            "OutcomePortal-Message-Id": delivery.message_id,
        }
        started = time.perf_counter()
        status_code, error = _webhook_post(url=delivery.endpoint.url, body=body, headers=headers)
        WebhookAttempt.objects.create(
            delivery=delivery, attempted_at=now, status_code=status_code, error=error,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )  # fmt: skip
        delivery.attempts += 1
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = "failed", None
        else:
            delivery.next_attempt_at = now + FIRST_RETRY * (2 ** (delivery.attempts - 1))
        delivery.save(update_fields=["attempts", "status", "delivered_at", "next_attempt_at"])
        return delivery.status


def _webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """(status code, error) of one POST; the URL is checked again now, and the checked address called."""
    try:
        target = webhook_target_check(url=url)  # DNS may answer differently than when the URL was saved
        answer = outbound.post(
            target, body=body, headers=headers, timeout=TIMEOUT_SECONDS, deadline=DEADLINE_SECONDS,
            max_bytes=MAX_RESPONSE_BYTES,
        )  # fmt: skip
    except InvalidWebhookUrl as exc:
        return None, f"Refused: {exc}"[:500]
    except outbound.Unanswered as exc:
        return None, str(exc)[:500]
    if 300 <= answer.status < 400:
        return answer.status, f"HTTP {answer.status} (redirects are not followed)"
    if not 200 <= answer.status < 300:
        return answer.status, f"HTTP {answer.status}"
    return answer.status, ""


def webhooks_deliver_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Retry every pending delivery whose next attempt is due (the backoff schedule)."""
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status="pending", next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    for delivery_id in due:
        webhook_deliver(delivery_id=delivery_id, now=now)
    return len(due)
