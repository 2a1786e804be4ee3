"""django-q2 entry points of accounts: thin wrappers over accounts.notify, accounts.people and accounts.ratelimit."""

from __future__ import annotations

from accounts import notify, people, ratelimit
from accounts.jobs import job_run_record


def notification_email(notification_id: int) -> int:
    return notify.notification_email(notification_id=notification_id)


def invitation_email(invitation_id: int, base_url: str) -> int:
    return people.invitation_email(invitation_id=invitation_id, base_url=base_url)


def password_reset_email(user_id: int, base_url: str) -> int:
    return people.password_reset_email(user_id=user_id, base_url=base_url)


def webhook_deliver(delivery_id: int) -> str:
    return notify.webhook_deliver(delivery_id=delivery_id)


def webhooks_deliver_due() -> int:
    with job_run_record(name="webhooks_deliver_due") as run:
        run.result = {"attempted": notify.webhooks_deliver_due()}
    return run.result["attempted"]


def rate_counters_prune() -> int:
    with job_run_record(name="rate_counters_prune") as run:
        run.result = {"deleted": ratelimit.prune()}
    return run.result["deleted"]
