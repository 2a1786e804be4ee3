"""The demo world's disputes: metering's seed_demo calls :func:`disputes_demo_file` after settlement.

Registered with ``metering.demo.demo_hook_register("after_settlement", …)`` at start-up, after
billing has finalized the closed months. On acme and northwind it files disputes through the real
services — on invoiced outcomes, first those reopened after their window (a ``window_closed``
signal: the natural candidates), and on outcomes of the current month still on its draft — and
tells a support desk that keeps its promises:

* **answered** (approved, partially approved, rejected with a note), almost all within the SLA —
  a few hours to a day after filing — and every ninth a little late (12 h past the SLA), so the
  trust metrics have a breach to show;
* **credited**: the approved ones, by the credit job at the end of the seed (credit notes for
  invoiced outcomes, ``dispute_credited`` for those on the draft);
* **open**, filed over the last two days so that none is past its SLA when the seed ends: one per
  account due within the warning time (:data:`OPEN_DUE_IN_HOURS`, "at risk now"), the others
  later — a queue support can clear, not one that looks neglected.

Every time is simulated and before the seed's ``now``: a dispute is filed a day or two after its
window closed (sooner, when that would be in the future), answered after it was filed, and filed in
time order (dispute numbers follow filing dates). Deterministic for a given world (no randomness:
choices follow the events' order).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.access import Principal
from accounts.models import Account, Role, User
from billing.ledger.models import Charge
from billing.ledger.selectors import shown_status_q
from disputes.models import Dispute, DisputeItem
from disputes.services import DisputeRefused, credits_issue, dispute_file, dispute_resolve, sla_hours_for
from metering.models import Event, Signal
from outcomeportal.core.periods import period_at

DEMO_ACCOUNTS = {"acme": 24, "northwind": 12}  # disputes per account
# The open disputes each account has when the seed ends: hours until their SLA ends. Under the
# 6 h warning time (DISPUTES_SLA_WARNING_HOURS) a dispute is at risk: one per account.
OPEN_DUE_IN_HOURS = {"acme": (3, 20, 33, 45), "northwind": (5, 29)}
FILED_AFTER_WINDOW_HOURS = (20, 27, 34, 41)  # a customer files a day or two after the window closed
ANSWER_HOURS = (3, 8, 13, 18, 5, 22, 10, 15)  # support answers within a day…
LATE_EVERY = 9  # …but every ninth answer comes after the SLA,
LATE_BY = timedelta(hours=12)  # this much after it
SETTLE_MARGIN = timedelta(minutes=30)  # the latest answer lands this long before the seed's now
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


@dataclass
class _Plan:
    """One dispute of the story: what is disputed, when it is filed, and when (if) it is answered."""

    account: Account
    admin: Principal
    events: list[Event]
    reason: str
    filed_at: datetime
    answered_at: datetime | None = None  # None: left open for the queue
    decision: str = ""
    chosen: list[str] | None = None  # a partial approval's events


def _principal(user: User | None, *, role: str, account_id: int | None, label: str) -> Principal:
    if user is not None:
        return Principal(role=user.role, account_id=user.account_id, label=user.username, user_id=user.pk)
    return Principal(role=role, account_id=account_id, label=label)


def _pools(account: Account, count: int, now: datetime) -> tuple[list[Event], list[Event]]:
    """(billed, on the draft), each spread evenly over its months: billed outcomes of closed months,
    those reopened after their window first; outcomes of the current month still on its draft. All
    with their window closed a while before ``now`` (there must be time to file and answer). Charged
    outcomes (money or credits) come first, so that an approval gives something back; those a fee
    included only when there are too few (an approval then reads "resolved without a credit")."""
    late_signal = Signal.objects.filter(event=OuterRef("pk"), effect=Signal.Effect.WINDOW_CLOSED)
    money = Charge.objects.filter(event_id=OuterRef("pk")).filter(Q(amount__gt=0) | Q(credits__gt=0))
    disputable: QuerySet[Event] = (
        Event.objects.filter(account=account, window_ends_at__lt=now - timedelta(hours=6))
        .exclude(Exists(DisputeItem.objects.filter(event=OuterRef("pk"))))
        .annotate(reopened=Exists(late_signal), charged=Exists(money))
    )
    billed = disputable.filter(shown_status_q("invoiced", account_id=account.pk))
    picked: list[int] = []
    for charged, reopened in ((True, True), (True, False), (False, True), (False, False)):
        picked += _spread(billed.filter(charged=charged, reopened=reopened), count - len(picked))
    on_draft = disputable.filter(shown_status_q("billable", account_id=account.pk))
    draft = _spread(on_draft.filter(charged=True), count // 2 + 2)
    draft += _spread(on_draft.filter(charged=False), count // 2 + 2 - len(draft))
    events = Event.objects.in_bulk([*picked, *draft])
    return [events[pk] for pk in picked], [events[pk] for pk in draft]


def _spread(events: QuerySet[Event], n: int) -> list[int]:
    """The pks of ``n`` of the events, evenly spaced in time (all of them when there are fewer)."""
    if n <= 0:
        return []
    pks = list(events.order_by("occurred_at", "pk").values_list("pk", flat=True))
    if len(pks) <= n:
        return pks
    step = (len(pks) - 1) / max(n - 1, 1)
    return [pks[i] for i in sorted({round(k * step) for k in range(n)})]


def _groups(events: list[Event], account: Account) -> list[list[Event]]:
    """The events in disputes, oldest first: every fifth dispute holds two outcomes of one month."""
    events = sorted(events, key=lambda e: e.occurred_at)
    groups: list[list[Event]] = []
    i = 0
    while i < len(events):
        group = [events[i]]
        if len(groups) % 5 == 1 and i + 1 < len(events):
            nxt = events[i + 1]
            if period_at(nxt.occurred_at, account.timezone) == period_at(group[0].occurred_at, account.timezone):
                group.append(nxt)
        groups.append(group)
        i += len(group)
    return groups


def _open_plans(
    account: Account, admin: Principal, billed: list[Event], draft: list[Event], now: datetime
) -> list[_Plan]:
    """The disputes left open: filed so that each is due in OPEN_DUE_IN_HOURS (alternately on the
    draft and on an invoice), on an outcome whose window closed well before the filing."""
    sla = timedelta(hours=sla_hours_for(account))
    plans = []
    for n, due_in in enumerate(OPEN_DUE_IN_HOURS.get(account.external_id, ())):
        filed_at = now - max(sla - timedelta(hours=due_in), timedelta(minutes=30))
        for pool in (draft, billed) if n % 2 == 0 else (billed, draft):
            fitting = [e for e in pool if e.window_ends_at <= filed_at - timedelta(hours=12)]
            event = max(fitting, key=lambda e: e.occurred_at, default=None)  # the newest: a fresh complaint
            if event is not None:
                pool.remove(event)
                reason = REASONS[n % len(REASONS)]
                plans.append(_Plan(account, admin, [event], reason, filed_at))
                break
    return plans


def _answered_plans(account: Account, admin: Principal, groups: list[list[Event]], now: datetime) -> list[_Plan]:
    """The disputes support has answered: filed a day or two after the window, answered within hours
    (every LATE_EVERY-th after the SLA), all of it before ``now`` — compressed when time is short."""
    sla = timedelta(hours=sla_hours_for(account))
    plans = []
    for k, group in enumerate(groups):
        window_end = max(e.window_ends_at for e in group)
        answer = sla + LATE_BY if k % LATE_EVERY == LATE_EVERY - 1 else timedelta(hours=ANSWER_HOURS[k % 8])
        filed_at = window_end + timedelta(hours=FILED_AFTER_WINDOW_HOURS[k % 4])
        room = now - SETTLE_MARGIN - window_end
        if filed_at + answer > window_end + room:  # a recent outcome: filed and answered sooner
            filed_at = window_end + room * 0.4
            answer = min(answer, room * 0.5)
        if answer < timedelta(minutes=20):
            continue  # no time left to answer it believably
        if len(group) > 1:
            decision, chosen = "partially_approved", [group[0].event_id]
        else:
            decision, chosen = ("rejected" if k % 4 == 3 else "approved"), None
        reason = REASONS[k % len(REASONS)]
        plans.append(_Plan(account, admin, group, reason, filed_at, filed_at + answer, decision, chosen))
    return plans


def _account_plans(account: Account, count: int, now: datetime) -> list[_Plan]:
    admin_user = User.objects.filter(account=account, role=Role.CUSTOMER_ADMIN).order_by("pk").first()
    admin = _principal(
        admin_user, role=Role.CUSTOMER_ADMIN, account_id=account.pk, label=f"{account.external_id}-admin"
    )
    billed, draft = _pools(account, count, now)
    open_plans = _open_plans(account, admin, billed, draft, now)
    wanted = count - len(open_plans)
    on_draft = _groups(draft, account)[: wanted // 3]  # about a third on the draft, the rest invoiced
    invoiced = _groups(billed, account)[: wanted - len(on_draft)]
    return [*_answered_plans(account, admin, [*invoiced, *on_draft], now), *open_plans]


def disputes_demo_file(context) -> None:
    """The after_settlement hook (``context`` is a ``metering.demo.DemoContext``)."""
    now = context.now
    support_user = User.objects.filter(role=Role.VENDOR_SUPPORT, is_active=True).order_by("pk").first()
    support = _principal(support_user, role=Role.VENDOR_SUPPORT, account_id=None, label="vendor-support")
    plans = [
        plan
        for external_id, count in DEMO_ACCOUNTS.items()
        if external_id in context.accounts
        for plan in _account_plans(Account.objects.get(pk=context.accounts[external_id]), count, now)
    ]
    filed = []
    for plan in sorted(plans, key=lambda p: p.filed_at):  # numbers in filing order
        try:
            dispute = dispute_file(
                principal=plan.admin,
                account=plan.account,
                reason_code=plan.reason,
                message=MESSAGES[plan.reason],
                event_ids=[e.event_id for e in plan.events],
                via="app",
                now=plan.filed_at,
            )
        except DisputeRefused:
            continue
        filed.append((plan, dispute))
    answered = sorted((p for p in filed if p[0].answered_at), key=lambda p: p[0].answered_at)
    late = 0
    for plan, dispute in answered:
        dispute_resolve(
            principal=support,
            dispute=dispute,
            decision=plan.decision,
            note=NOTES[plan.decision],
            event_ids=plan.chosen,
            now=plan.answered_at,
        )
        late += plan.answered_at > dispute.sla_due_at
    run = credits_issue(now=now)  # the credit job; it also warns support of the SLAs at risk
    # An approval of outcomes a fee included gives nothing back: counted apart, not as "credited".
    nothing = Dispute.objects.filter(pk__in=run.credited, credited_amount=0).exclude(credited_credits__gt=0).count()
    context.progress(
        f"disputes: {len(filed)} filed, {len(answered)} answered ({len(answered) - late} within the SLA), "
        f"{len(run.credited) - nothing} credited ({len(run.credit_notes)} credit notes)"
        + (f", {nothing} approved without a credit (nothing was charged)" if nothing else "")
        + f", {len(filed) - len(answered)} open in the queue ({len(run.sla_warned)} due within the warning time)"
    )
