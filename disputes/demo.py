"""The demo world's disputes: metering's seed_demo calls :func:`disputes_demo_file` after settlement.

Registered with ``metering.demo.demo_hook_register("after_settlement", …)`` at start-up, after
billing has finalized the closed months. On acme and northwind it files disputes through the real
services — on invoiced outcomes, first those reopened after their window (a ``window_closed``
signal: the natural candidates), and on outcomes of the current month still on its draft —,
resolves most of them as support would (approve, partially approve, reject with a note; a few
answered after their SLA), leaves the latest ones open for the queue, and runs the credit job, so
``dispute_credited`` outcomes, a populated queue and trust metrics appear. Deterministic for a
given world (no randomness: choices follow the events' order).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Exists, OuterRef

from accounts.access import Principal
from accounts.models import Account, Role, User
from billing.ledger.selectors import shown_status_q
from disputes.models import DisputeItem
from disputes.services import DisputeRefused, credits_issue, dispute_file, dispute_resolve
from metering.models import Event, Signal
from outcomeportal.core.periods import period_at

DEMO_ACCOUNTS = {"acme": 24, "northwind": 12}  # disputes per account
REASONS = ("not_resolved", "human_handoff", "duplicate", "outside_definition", "not_resolved", "test_usage")
MESSAGES = {
    "not_resolved": "The customer wrote back the next day: the problem was still there.",
    "human_handoff": "Our agent finished this conversation; the AI only greeted.",
    "duplicate": "Same customer, same question, counted twice.",
    "outside_definition": "Password resets are outside our agreed definition.",
    "test_usage": "This was our QA team testing the new flow.",
}
NOTES = {
    "approved": "Agreed — the outcome did not hold. Credited.",
    "partially_approved": "The first one was reopened and is credited; the other was confirmed by the customer.",
    "rejected": "The customer confirmed the fix in the CSAT survey; the charge stands.",
}
OPEN_LATEST = 4  # the newest disputes of each account stay open for the queue (half billed, half upcoming)


def _principal(user: User | None, *, role: str, account_id: int | None, label: str) -> Principal:
    if user is not None:
        return Principal(role=user.role, account_id=user.account_id, label=user.username, user_id=user.pk)
    return Principal(role=role, account_id=account_id, label=label)


def _candidates(account: Account, count: int, now) -> tuple[list[Event], set[int]]:
    """Billed outcomes of closed months (credited by a credit note), most of them reopened after their
    window, and outcomes of the current month still on its draft (they leave it, ``dispute_credited``):
    both ways a dispute is credited appear. Oldest first, with the pks of those on the draft."""
    late_signal = Signal.objects.filter(event=OuterRef("pk"), effect=Signal.Effect.WINDOW_CLOSED)
    disputable = (
        Event.objects.filter(account=account, window_ends_at__lt=now)
        .exclude(Exists(DisputeItem.objects.filter(event=OuterRef("pk"))))
        .annotate(reopened=Exists(late_signal))
    )
    billed = disputable.filter(shown_status_q("invoiced", account_id=account.pk))
    upcoming = disputable.filter(shown_status_q("billable", account_id=account.pk))
    on_draft = list(upcoming.order_by("-occurred_at", "pk")[: count // 2])
    picked = [*billed.order_by("-reopened", "-occurred_at", "pk")[: count - count // 3], *on_draft]
    return sorted(picked, key=lambda e: e.occurred_at), {e.pk for e in on_draft}


def disputes_demo_file(context) -> None:
    """The after_settlement hook (``context`` is a ``metering.demo.DemoContext``)."""
    now = context.now
    support_user = User.objects.filter(role=Role.VENDOR_SUPPORT, is_active=True).order_by("pk").first()
    support = _principal(support_user, role=Role.VENDOR_SUPPORT, account_id=None, label="vendor-support")
    filed = resolved = 0
    for external_id, count in DEMO_ACCOUNTS.items():
        if external_id not in context.accounts:
            continue
        account = Account.objects.get(pk=context.accounts[external_id])
        admin_user = User.objects.filter(account=account, role=Role.CUSTOMER_ADMIN).order_by("pk").first()
        admin = _principal(admin_user, role=Role.CUSTOMER_ADMIN, account_id=account.pk, label=f"{external_id}-admin")
        candidates, on_draft = _candidates(account, count, now)
        disputes = []
        i = 0
        while i < len(candidates) and len(disputes) < count:
            size = 2 if len(disputes) % 5 == 1 else 1  # every fifth dispute holds two outcomes
            group = [candidates[i]]
            j = i + 1
            key = period_at(group[0].occurred_at, account.timezone)
            while len(group) < size and j < len(candidates):
                if period_at(candidates[j].occurred_at, account.timezone) == key:
                    group.append(candidates[j])
                j += 1
            i = j if len(group) > 1 else i + 1
            reason = REASONS[len(disputes) % len(REASONS)]
            # Filed a day or two after the window closed, never in the future.
            at = min(max(e.window_ends_at for e in group) + timedelta(hours=20 + 7 * (len(disputes) % 4)), now)
            try:
                dispute = dispute_file(
                    principal=admin,
                    account=account,
                    reason_code=reason,
                    message=MESSAGES[reason],
                    event_ids=[e.event_id for e in group],
                    via="app",
                    now=at,
                )
            except DisputeRefused:
                continue
            disputes.append(dispute)
        filed += len(disputes)
        kinds = [any(i.event_id in on_draft for i in d.items.all()) for d in disputes]
        still_open = {
            d.pk
            for kind in (True, False)
            for d in [d for d, k in zip(disputes, kinds, strict=True) if k == kind][-(OPEN_LATEST // 2) :]
        }
        for n, dispute in enumerate(d for d in disputes if d.pk not in still_open):
            items = list(dispute.items.select_related("event").order_by("pk"))
            if len(items) > 1:
                decision, chosen = "partially_approved", [items[0].event.event_id]
            else:
                decision, chosen = ("rejected" if n % 4 == 3 else "approved"), None
            # Most answered within a day; every seventh after its 48 h SLA.
            when = min(dispute.filed_at + timedelta(hours=60 if n % 7 == 6 else 3 + 5 * (n % 4)), now)
            dispute_resolve(
                principal=support, dispute=dispute, decision=decision, note=NOTES[decision], event_ids=chosen, now=when
            )
            resolved += 1
    run = credits_issue(now=now)
    context.progress(
        f"Disputes: {filed} filed, {resolved} resolved, {len(run.credited)} credited "
        f"({len(run.credit_notes)} credit notes), {filed - resolved} open in the queue."
    )
