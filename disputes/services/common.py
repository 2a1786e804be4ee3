"""What the dispute services share: the refusal, the actor, the one door of the state machines
(:func:`transition`, tables in :mod:`disputes.states`), history rows, telling the customer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.urls import reverse

from accounts.access import Principal
from accounts.models import Role
from accounts.notify import notification_send
from disputes.models import (
    Dispute,
    DisputeHistory,
    Subject,
)
from disputes.states import IllegalTransition, transition_check
from metering.models import Event
from outcomeportal.core.money import money_display

MAX_EVENTS = 5000  # per dispute; a bigger invoice line is disputed in parts (by events)
MAX_TEXT = 5000
CUSTOMER_ROLES_TOLD = (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN)  # who is told (in the app and by email)


class DisputeRefused(Exception):
    """A refused request, said the way the API contract says errors (code, message, fields)."""

    def __init__(self, code: str, message: str, *, status: int = 400, fields: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.fields = code, message, status, fields


@dataclass(frozen=True)
class Actor:
    """Who did it, as the audit trail records it."""

    label: str
    user_id: int | None = None

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        return cls(principal.label, principal.user_id)


JOB = Actor("issue_credits job")


# --- The state machines' one door ------------------------------------------------------------


def history_row(
    dispute: Dispute,
    *,
    subject: str,
    to_state: str,
    actor: Actor,
    at: datetime,
    from_state: str = "",
    subject_ref: str = "",
    note: str = "",
) -> DisputeHistory:
    return DisputeHistory(
        dispute=dispute,
        account_id=dispute.account_id,
        subject=subject,
        subject_ref=subject_ref[:128],
        from_state=from_state,
        to_state=to_state,
        actor=actor.label[:150],
        actor_user_id=actor.user_id,
        at=at,
        note=note,
    )


def transition(
    dispute: Dispute, *, machine: str, to_state: str, actor: Actor, at: datetime, note: str = "", **fields
) -> None:
    """Move the dispute (``machine="dispute"``) or its credit (``"credit"``) — legal moves only —
    with a conditional UPDATE (a concurrent move makes it fail) and a history row."""
    column = "status" if machine == "dispute" else "credit_state"
    from_state = getattr(dispute, column)
    transition_check(machine, from_state, to_state)
    updated = Dispute.objects.filter(pk=dispute.pk, **{column: from_state}).update(**{column: to_state}, **fields)
    if updated != 1:
        raise IllegalTransition(machine, from_state, to_state)
    setattr(dispute, column, to_state)
    for name, value in fields.items():
        setattr(dispute, name, value)
    history_row(
        dispute, subject=machine, from_state=from_state, to_state=to_state, actor=actor, at=at, note=note
    ).save()


def events_history(
    dispute: Dispute,
    events: Iterable[Event],
    *,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    at: datetime,
    note: str = "",
) -> None:
    DisputeHistory.objects.bulk_create(
        [
            history_row(
                dispute,
                subject=Subject.EVENT,
                subject_ref=e.event_id,
                from_state=from_state or getattr(e, "shown_status", e.status),
                to_state=to_state,
                actor=actor,
                at=at,
                note=note,
            )
            for e in events
        ]
    )


def notify_customer(dispute: Dispute, *, title: str, body: str, now: datetime) -> None:
    link = reverse("disputes:detail", args=[dispute.account.external_id, dispute.pk])
    notification_send(
        account=dispute.account_id,
        kind="dispute_status",
        title=title,
        body=body,
        link=link,
        roles=CUSTOMER_ROLES_TOLD,
        now=now,
    )


def money_text(amount: Decimal | None, currency: str) -> str:
    return money_display(amount or Decimal(0), currency)
