"""Read-side queries of disputes, scoped to the principal asking.

One way to fetch a dispute: :func:`dispute_get_for_principal` — 404 for "missing or not
yours", the same answer for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404

from accounts.access import Perm, Principal
from accounts.models import Account, Role, User
from billing.audit import decision_explained
from billing.invoices.models import InvoiceLine, InvoiceStatus
from billing.ledger.selectors import attach_charges
from billing.selectors import line_events
from disputes import conf
from disputes.models import (
    Dispute,
    DisputeComment,
    DisputeCredit,
    DisputeHistory,
    DisputeItem,
    DisputeStatus,
    ItemDecision,
)
from metering.models import Event


def disputes_for_principal(*, principal: Principal) -> QuerySet[Dispute]:
    qs = Dispute.objects.select_related("account", "invoice", "credit_note")
    return qs if principal.is_vendor else qs.filter(account_id=principal.account_id)


def dispute_get_for_principal(*, principal: Principal, dispute_id: int, account: Account | None = None) -> Dispute:
    """One dispute, or 404 when it does not exist, is another account's (or not of ``account``)."""
    qs = disputes_for_principal(principal=principal).select_related("assignee", "credit_note", "invoice")
    if account is not None:
        qs = qs.filter(account=account)
    dispute = qs.filter(pk=dispute_id).first()
    if dispute is None:
        raise Http404("No such dispute.")
    return dispute


def dispute_list(
    *, principal: Principal, account: Account | None = None, status: str | None = None, limit: int = 500
) -> list[Dispute]:
    qs = disputes_for_principal(principal=principal)
    if account is not None:
        qs = qs.filter(account=account)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("-filed_at", "-id")[:limit])


def event_ids_of(disputes: list[Dispute]) -> dict[int, list[str]]:
    """Each dispute's events (the platform's event IDs), in filing order — one query for all."""
    return {pk: ids for pk, (ids, _) in dispute_event_ids(disputes).items()}


def dispute_event_ids(disputes: list[Dispute]) -> dict[int, tuple[list[str], list[str]]]:
    """Each dispute's event IDs and those approved, in filing order — one query for all."""
    out: dict[int, tuple[list[str], list[str]]] = {d.pk: ([], []) for d in disputes}
    rows = (
        DisputeItem.objects.filter(dispute_id__in=list(out))
        .order_by("dispute_id", "pk")
        .values_list("dispute_id", "event__event_id", "decision")
    )
    for dispute_id, event_id, decision in rows:
        out[dispute_id][0].append(event_id)
        if decision == ItemDecision.APPROVED:
            out[dispute_id][1].append(event_id)
    return out


def dispute_items(*, dispute: Dispute) -> list[DisputeItem]:
    qs = dispute.items.select_related("event", "event__outcome_type", "event__criteria")
    items = list(qs.order_by("event__occurred_at", "pk"))
    attach_charges([i.event for i in items])  # each event as the customer reads it (its charge)
    return items


def dispute_comments(*, dispute: Dispute, principal: Principal) -> list[DisputeComment]:
    """The thread; internal notes only for vendor staff."""
    qs = dispute.comments.all()
    if not principal.is_vendor:
        qs = qs.filter(internal=False)
    return list(qs.order_by("created_at", "pk"))


def dispute_history(*, dispute: Dispute, principal: Principal) -> list[DisputeHistory]:
    """The audit trail, oldest first; who support assigned it to is support's business."""
    qs = dispute.history.all()
    if not principal.is_vendor:
        qs = qs.exclude(subject="assignee")
    return list(qs.order_by("at", "pk"))


def dispute_credits(*, dispute: Dispute) -> list[DisputeCredit]:
    return list(dispute.credits.select_related("event", "credit_note", "invoice").order_by("pk"))


def support_staff() -> list[User]:
    return list(User.objects.filter(role=Role.VENDOR_SUPPORT, is_active=True).order_by("first_name", "username"))


# --- The support queue --------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    status: str = "open"  # open | resolved | all
    account: Account | None = None
    assignee: str = ""  # "" anyone | "me" | "none" | a user id
    reason_code: str = ""
    at_risk: bool = False  # due within the warning time, or breached


@dataclass(frozen=True)
class QueueRow:
    dispute: Dispute
    events: int
    age: timedelta
    left: timedelta  # until the SLA is due (negative: breached)
    risk: str  # breached | at_risk | ok | resolved

    @property
    def breached(self) -> bool:
        return self.risk == "breached"


def dispute_queue(*, filters: QueueFilters, principal: Principal, now: datetime, limit: int = 500) -> list[QueueRow]:
    """Disputes for support, most urgent first: open ones by SLA due time (breached first, then the
    closest), the larger amount first on a tie; resolved ones newest first."""
    if not principal.can(Perm.ALL_ACCOUNTS):
        return []
    qs = Dispute.objects.select_related("account", "assignee").annotate(n_events=Count("items"))
    if filters.status == "open":
        qs = qs.filter(status=DisputeStatus.OPEN)
    elif filters.status == "resolved":
        qs = qs.exclude(status=DisputeStatus.OPEN)
    if filters.account is not None:
        qs = qs.filter(account=filters.account)
    if filters.assignee == "me":
        qs = qs.filter(assignee_id=principal.user_id)
    elif filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee.isascii() and filters.assignee.isdigit():
        qs = qs.filter(assignee_id=int(filters.assignee))
    if filters.reason_code:
        qs = qs.filter(reason_code=filters.reason_code)
    if filters.at_risk:
        qs = qs.filter(status=DisputeStatus.OPEN, sla_due_at__lte=now + conf.sla_warning())
    if filters.status == "open":
        qs = qs.order_by("sla_due_at", "-amount_at_stake", "pk")
    else:
        qs = qs.order_by("-filed_at", "-pk")
    warning = conf.sla_warning()
    rows = []
    for d in qs[:limit]:
        risk = sla_risk(due_at=d.sla_due_at, resolved_at=d.resolved_at, now=now, warning=warning)
        end = d.resolved_at or now
        rows.append(QueueRow(d, d.n_events, end - d.filed_at, d.sla_due_at - now, risk))
    return rows


def sla_risk(*, due_at: datetime, resolved_at: datetime | None, now: datetime, warning: timedelta) -> str:
    """Where a dispute stands against its SLA — the one definition the queue, its cards and banner,
    and the dispute page use. Open: ``breached`` once past due (``due_at < now``, as the trust
    metrics count), ``at_risk`` when due within ``warning``, else ``ok``. Answered: ``breached`` if
    answered after the due time, else ``resolved``."""
    if resolved_at is not None:
        return "breached" if resolved_at > due_at else "resolved"
    left = due_at - now
    if left < timedelta(0):
        return "breached"
    return "at_risk" if left <= warning else "ok"


@dataclass(frozen=True)
class QueueTotals:
    """The queue's cards and its SLA warnings banner, read from one list of the open disputes so that
    they cannot disagree: the banner names exactly the disputes the two SLA cards count."""

    open: list[QueueRow]

    @property
    def breached(self) -> list[QueueRow]:
        return [r for r in self.open if r.risk == "breached"]

    @property
    def at_risk(self) -> list[QueueRow]:
        return [r for r in self.open if r.risk == "at_risk"]

    @property
    def sla_warnings(self) -> list[QueueRow]:
        """The banner: breached first (the longest overdue first), then those due soonest."""
        return [*self.breached, *self.at_risk]

    @property
    def unassigned(self) -> int:
        return sum(1 for r in self.open if r.dispute.assignee_id is None)

    @property
    def stake_by_currency(self) -> list[tuple[str, Decimal]]:
        stake: dict[str, Decimal] = {}
        for r in self.open:
            stake[r.dispute.currency] = stake.get(r.dispute.currency, Decimal(0)) + r.dispute.amount_at_stake
        return sorted(stake.items())


def queue_totals(*, principal: Principal, now: datetime) -> QueueTotals:
    """Every open dispute, most urgent first (see :func:`dispute_queue`), for the cards and the banner."""
    return QueueTotals(open=dispute_queue(filters=QueueFilters(), principal=principal, now=now, limit=100_000))


# --- The evidence panel -------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    item: DisputeItem
    event: Event
    checks: list
    signals: list


def dispute_evidence(*, dispute: Dispute) -> list[Evidence]:
    """Per disputed event: its decision explained criterion by criterion, its signals, its source."""
    items = list(
        dispute.items.select_related(
            "event", "event__outcome_type", "event__criteria__outcome_type", "event__criteria__account"
        )
        .prefetch_related(Prefetch("event__signals"))
        .order_by("event__occurred_at", "pk")
    )
    attach_charges([i.event for i in items])
    return [Evidence(i, i.event, decision_explained(i.event), list(i.event.signals.all())) for i in items]


# --- Disputes of one event (the event detail page) ---------------------------------------------


def disputes_of_event(*, event: Event) -> list[tuple[Dispute, DisputeItem]]:
    """The disputes an event was in, newest first."""
    items = DisputeItem.objects.filter(event=event).select_related("dispute").order_by("-dispute__filed_at")
    return [(i.dispute, i) for i in items]


def events_credited_without_money(*, event_ids: list[int]) -> set[int]:
    """Those of the events whose approved dispute gave nothing back (no money, no credits): nothing was
    charged for them — included in a fee, or free by the plan."""
    credits = DisputeCredit.objects.filter(event_id__in=event_ids, amount=0).exclude(credits__gt=0)
    return set(credits.values_list("event_id", flat=True))


# --- Can these events be disputed? ---------------------------------------------------------------

DISPUTABLE = ("billable", "invoiced")  # charged: on the upcoming draft, or on a finalized invoice


@dataclass(frozen=True)
class Refusal:
    event: Event
    kind: str  # in_open_dispute | credited | not_billed
    message: str


def event_refusals(events: list[Event]) -> dict[int, Refusal]:
    """Why each event cannot be disputed — by event pk; the disputable ones are absent."""
    pks = [e.pk for e in events]
    if any(not hasattr(e, "shown_status") for e in events):
        attach_charges(events)
    open_in = dict(DisputeItem.objects.filter(event_id__in=pks, is_open=True).values_list("event_id", "dispute_id"))
    credited_by = dict(DisputeCredit.objects.filter(event_id__in=pks).values_list("event_id", "dispute_id"))
    out: dict[int, Refusal] = {}
    for e in events:
        if e.pk in open_in:
            out[e.pk] = Refusal(e, "in_open_dispute", f"{e.event_id}: already in open dispute #{open_in[e.pk]}.")
        elif e.pk in credited_by or e.shown_status == "credited" or e.shown_reason == "dispute_credited":
            by = f" by dispute #{credited_by[e.pk]}" if e.pk in credited_by else ""
            out[e.pk] = Refusal(e, "credited", f"{e.event_id}: already credited{by}.")
        elif e.shown_status == "pending":
            out[e.pk] = Refusal(
                e,
                "not_billed",
                f"{e.event_id}: pending — its measurement window is still open, so it is not charged yet.",
            )
        elif e.shown_status not in DISPUTABLE:
            out[e.pk] = Refusal(
                e, "not_billed", f"{e.event_id}: not billable ({e.shown_reason or e.shown_status}) — not charged."
            )
    return out


def invoice_line_for_account(*, account: Account, line_id: int) -> InvoiceLine | None:
    return (
        InvoiceLine.objects.filter(pk=line_id, account=account)
        .select_related("invoice", "invoice__account", "outcome_type")
        .first()
    )


def events_of_line(*, line: InvoiceLine, limit: int) -> list[Event]:
    """The events behind an invoice line (billing's drill-down), oldest first, at most ``limit``."""
    rows = line_events(invoice=line.invoice, line=line, limit=limit)
    return sorted(rows, key=lambda e: (e.occurred_at, e.pk))


def lines_to_dispute(*, account: Account, limit: int = 60) -> list[InvoiceLine]:
    """Outcome lines of the account's invoices (finalized and the upcoming draft), newest period first."""
    return list(
        InvoiceLine.objects.filter(
            account=account, alloc__isnull=False, invoice__status__in=[InvoiceStatus.FINALIZED, InvoiceStatus.DRAFT]
        )
        .select_related("invoice")
        .order_by("-invoice__period", "position")[:limit]
    )
