"""Resolving a dispute: approve, partially approve (chosen events) or reject, with a note the customer sees."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from accounts.access import Perm, Principal
from billing.ledger.services import charges_dispute_close
from billing.moneylog import kinds
from billing.moneylog.actor import actor_of
from billing.moneylog.services import row_act_record
from disputes.models import (
    CreditState,
    Dispute,
    DisputeItem,
    DisputeStatus,
    ItemDecision,
)
from disputes.services.common import (
    MAX_TEXT,
    Actor,
    DisputeRefused,
    events_history,
    money_text,
    notify_customer,
    transition,
)
from outcomeportal.core import formatting


def _resolution_fields(dispute: Dispute, decision: str, event_ids: list[str] | None, note: str) -> dict:
    fields: dict[str, list[str]] = {}
    if decision not in (DisputeStatus.APPROVED, DisputeStatus.PARTIALLY_APPROVED, DisputeStatus.REJECTED):
        fields["decision"] = ["One of: approved, partially_approved, rejected."]
    if decision in (DisputeStatus.REJECTED, DisputeStatus.PARTIALLY_APPROVED) and not note.strip():
        fields["note"] = ["Tell the customer why (they see this note)."]
    elif len(note) > MAX_TEXT:
        fields["note"] = [f"At most {MAX_TEXT} characters."]
    return fields


def dispute_resolve(
    *,
    principal: Principal,
    dispute: Dispute,
    decision: str,
    note: str = "",
    event_ids: list[str] | None = None,
    now: datetime | None = None,
) -> Dispute:
    """Approve (every event), partially approve (the chosen ``event_ids``) or reject, with a note
    the customer sees. Approved events are credited by the issue_credits job, enqueued on commit;
    rejected ones that were invoiced go back from ``disputed`` to ``invoiced``."""
    now = now or timezone.now()
    if not principal.can(Perm.DISPUTES_RESOLVE):
        raise DisputeRefused("permission_denied", "Only vendor support can resolve disputes.", status=403)
    note = note or ""
    fields = _resolution_fields(dispute, decision, event_ids, note)
    if fields:
        raise DisputeRefused("validation_error", "The resolution has invalid fields.", fields=fields)
    actor = Actor.of(principal)
    with transaction.atomic():
        dispute = Dispute.objects.select_for_update(of=("self",)).select_related("account").get(pk=dispute.pk)
        if dispute.status != DisputeStatus.OPEN:
            raise DisputeRefused(
                "dispute_not_open", f"Dispute #{dispute.pk} was already resolved ({dispute.status}).", status=409
            )
        items = list(dispute.items.select_related("event").order_by("pk"))
        by_event_id = {item.event.event_id: item for item in items}
        approved = _approved_events(dispute, decision, event_ids, set(by_event_id))
        transition(
            dispute,
            machine="dispute",
            to_state=decision,
            actor=actor,
            at=now,
            note=note.strip(),
            resolved_at=now,
            resolved_by=actor.label[:150],
            resolved_by_user_id=actor.user_id,
            resolution_note=note.strip(),
        )
        approved_pks = [by_event_id[e].pk for e in approved]
        DisputeItem.objects.filter(pk__in=approved_pks).update(decision=ItemDecision.APPROVED, is_open=False)
        rejected_items = [item for item in items if item.event.event_id not in approved]
        DisputeItem.objects.filter(pk__in=[i.pk for i in rejected_items]).update(
            decision=ItemDecision.REJECTED, is_open=False
        )
        back = set(charges_dispute_close(event_ids=[i.event_id for i in rejected_items]))
        events_history(
            dispute,
            [i.event for i in rejected_items if i.event_id in back],
            from_state="disputed",
            to_state="invoiced",
            actor=actor,
            at=now,
            note="dispute rejected for this event: the charge stands",
        )
        at_stake = sum((i.amount or Decimal(0) for i in items if i.event.event_id in approved), Decimal(0))
        if approved:
            transition(
                dispute,
                machine="credit",
                to_state=CreditState.PENDING,
                actor=actor,
                at=now,
                note=f"{formatting.plural(len(approved), 'event')} to credit",
            )
            dispute_id = dispute.pk
            transaction.on_commit(lambda: async_task("disputes.tasks.dispute_credit", dispute_id))
        _tell_customer(dispute, decision, note, items=len(items), approved=len(approved), at_stake=at_stake, now=now)
        row_act_record(
            kind=kinds.DISPUTE_RESOLVED,
            view="dispute_resolution",
            pk=dispute.pk,
            account_id=dispute.account_id,
            actor=actor_of(principal),
        )
    return dispute


def _approved_events(dispute: Dispute, decision: str, event_ids: list[str] | None, all_ids: set[str]) -> set[str]:
    """The event IDs a resolution approves, refusing a choice that does not fit the decision."""
    if decision == DisputeStatus.APPROVED:
        approved = all_ids if not event_ids else set(event_ids)
        if approved != all_ids:
            raise DisputeRefused(
                "validation_error",
                "Approving credits every event of the dispute.",
                fields={"event_ids": ["Leave out event_ids to approve all, or use partially_approved."]},
            )
        return approved
    if decision == DisputeStatus.PARTIALLY_APPROVED:
        approved = set(event_ids or ())
        unknown = sorted(approved - all_ids)
        if unknown:
            raise DisputeRefused(
                "validation_error",
                "Some events are not in this dispute.",
                fields={"event_ids": [f"{e}: not in dispute #{dispute.pk}." for e in unknown[:50]]},
            )
        if not approved or approved == all_ids:
            raise DisputeRefused(
                "validation_error",
                "Choose some, but not all, of the events.",
                fields={"event_ids": ["Partial approval credits some of the events: to credit all, approve."]},
            )
        return approved
    if event_ids:
        raise DisputeRefused(
            "validation_error",
            "A rejection credits nothing.",
            fields={"event_ids": ["Leave out event_ids when rejecting."]},
        )
    return set()


def _tell_customer(dispute: Dispute, decision: str, note: str, *, items: int, approved: int, at_stake: Decimal,
                   now: datetime) -> None:  # fmt: skip
    words = {
        DisputeStatus.APPROVED: (
            "approved",
            ("The outcome" if items == 1 else f"All {formatting.plural(items, 'outcome')}") + " will be credited",
        ),
        DisputeStatus.PARTIALLY_APPROVED: (
            "partially approved",
            f"{formatting.count(approved)} of {formatting.plural(items, 'outcome')} will be credited",
        ),
        DisputeStatus.REJECTED: ("rejected", "The charges stand"),
    }[decision]
    amount = f" ({money_text(at_stake, dispute.currency)})" if approved else ""
    notify_customer(
        dispute,
        title=f"Dispute #{dispute.pk} {words[0]}",
        body=f"{words[1]}{amount}." + (f" Support: “{note.strip()}”" if note.strip() else ""),
        now=now,
    )
