"""Support's work on a dispute: assignment and the thread (internal notes are support's alone)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.access import Perm, Principal
from accounts.models import Role, User
from disputes.models import (
    Dispute,
    DisputeComment,
    Subject,
)
from disputes.services.common import (
    MAX_TEXT,
    Actor,
    DisputeRefused,
    history_row,
    notify_customer,
)


def dispute_assign(*, principal: Principal, dispute: Dispute, assignee: User | None, now: datetime | None = None):
    """Give the dispute to a support staff member (or to nobody)."""
    now = now or timezone.now()
    if not principal.can(Perm.DISPUTES_RESOLVE):
        raise DisputeRefused("permission_denied", "Only vendor support can assign disputes.", status=403)
    if assignee is not None and (assignee.role != Role.VENDOR_SUPPORT or not assignee.is_active):
        raise DisputeRefused(
            "validation_error",
            "Disputes go to active support staff.",
            fields={"assignee": ["Pick a support staff member."]},
        )
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=dispute.pk)
        before = dispute.assignee.username if dispute.assignee else ""
        after = assignee.username if assignee else ""
        if before == after:
            return dispute
        Dispute.objects.filter(pk=dispute.pk).update(assignee=assignee)
        history_row(
            dispute,
            subject=Subject.ASSIGNEE,
            from_state=before or "unassigned",
            to_state=after or "unassigned",
            actor=Actor.of(principal),
            at=now,
        ).save()
    dispute.assignee = assignee
    return dispute


def dispute_comment_add(
    *, principal: Principal, dispute: Dispute, body: str, internal: bool = False, now: datetime | None = None
) -> DisputeComment:
    """Add to the thread. Support may write internal notes (never shown to the customer); a
    customer admin writes to support. A support reply the customer can see is notified."""
    now = now or timezone.now()
    support = principal.can(Perm.DISPUTES_RESOLVE)
    if not support and not (principal.can(Perm.DISPUTES_FILE) and principal.sees_account(dispute.account_id)):
        raise DisputeRefused("permission_denied", "Only a customer admin or support can write here.", status=403)
    if internal and not support:
        raise DisputeRefused("permission_denied", "Internal notes are support's.", status=403)
    body = (body or "").strip()
    if not body or len(body) > MAX_TEXT:
        raise DisputeRefused(
            "validation_error", "The comment is empty or too long.", fields={"body": [f"1 to {MAX_TEXT} characters."]}
        )
    with transaction.atomic():
        comment = DisputeComment.objects.create(
            dispute=dispute,
            account_id=dispute.account_id,
            author=principal.label[:150],
            author_user_id=principal.user_id,
            from_support=support,
            internal=internal,
            body=body,
            created_at=now,
        )
        if support and not internal:
            notify_customer(dispute, title=f"Support replied on dispute #{dispute.pk}", body=body[:500], now=now)
    return comment
