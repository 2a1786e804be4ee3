"""SLA warnings: support is told, once per dispute, before an answer is due (in the app and by email).

A warning is news only while the deadline is close: an open dispute whose SLA ends within
``DISPUTES_SLA_WARNING_HOURS`` (6 h), or ended less than ``DISPUTES_SLA_WARNING_STALE_HOURS`` (24 h)
ago — the job runs every five minutes, so a deadline that passed unwarned means the worker was
stopped. One that ended longer ago (a worker stopped for days, a demo seeded last week) is not
warned about as if new: the queue shows it breached, and no notification or email is sent. The
email, queued when the warning is made, is checked again when it goes out.
"""

from __future__ import annotations

from datetime import datetime

from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Notification, Role, User
from disputes import conf
from disputes.models import (
    Dispute,
    DisputeStatus,
)
from disputes.services.common import (
    money_text,
)
from outcomeportal.core import formatting


def sla_warning_stale(dispute: Dispute, *, now: datetime) -> bool:
    """Whether the dispute's SLA ended too long ago for a warning to be news."""
    return dispute.sla_due_at <= now - conf.sla_warning_stale()


def sla_warnings_send(*, now: datetime | None = None) -> list[int]:
    """Tell support, once per dispute, that an open dispute's SLA ends within the warning time (or has,
    lately: not when it ended more than the stale time ago)."""
    now = now or timezone.now()
    due = list(
        Dispute.objects.filter(
            status=DisputeStatus.OPEN,
            sla_warned_at__isnull=True,
            sla_due_at__lte=now + conf.sla_warning(),
            sla_due_at__gt=now - conf.sla_warning_stale(),
        )
        .order_by("sla_due_at")
        .values_list("pk", flat=True)
    )
    warned = []
    for pk in due:
        with transaction.atomic():
            if Dispute.objects.filter(pk=pk, sla_warned_at__isnull=True).update(sla_warned_at=now) != 1:
                continue  # another run warned first
            dispute = Dispute.objects.select_related("account").get(pk=pk)
            left = dispute.sla_due_at - now
            when = "breached" if left.total_seconds() <= 0 else f"due in {formatting.duration(left)}"
            Notification.objects.create(
                account_id=dispute.account_id,
                kind="dispute_sla",
                roles=[Role.VENDOR_SUPPORT],
                created_at=now,
                title=f"SLA {when}: dispute #{pk} of {dispute.account.name}",
                body=f"{money_text(dispute.amount_at_stake, dispute.currency)} at stake; due "
                f"{formatting.moment(dispute.sla_due_at, 'UTC', with_zone=True)}.",
                link=reverse("disputes:detail", args=[dispute.account.external_id, pk]),
            )
            transaction.on_commit(lambda pk=pk: async_task("disputes.tasks.sla_warning_email", pk))
            warned.append(pk)
    return warned


def sla_warning_email(*, dispute_id: int, now: datetime | None = None) -> int:
    """Email the SLA warning to support (the assignee, or every active support staff member) — unless
    the dispute was answered meanwhile, or its SLA ended more than the stale time ago (the email sat
    in the queue while no worker ran)."""
    now = now or timezone.now()
    dispute = Dispute.objects.select_related("account", "assignee").filter(pk=dispute_id).first()
    if dispute is None or dispute.status != DisputeStatus.OPEN or sla_warning_stale(dispute, now=now):
        return 0
    people = User.objects.filter(role=Role.VENDOR_SUPPORT, is_active=True).exclude(email="")
    if dispute.assignee_id and dispute.assignee.email:
        people = people.filter(pk=dispute.assignee_id)
    recipients = sorted(set(people.values_list("email", flat=True)))
    if recipients:
        due = formatting.moment(dispute.sla_due_at, "UTC", with_zone=True)
        send_mail(
            f"[OutcomePortal] SLA of dispute #{dispute.pk} ({dispute.account.name}) ends {due}",
            f"{formatting.plural(dispute.items.count(), 'outcome')}, "
            f"{money_text(dispute.amount_at_stake, dispute.currency)} at stake.\n"
            f"{reverse('disputes:detail', args=[dispute.account.external_id, dispute.pk])}",
            None,
            recipients,
        )
    return len(recipients)
