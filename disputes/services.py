"""Operations that change disputes: file, assign, comment, resolve — and the credit job's steps.

Every state change goes through :func:`_transition` (the tables are in :mod:`disputes.states`)
and writes a history row; every event that moves gets its own history row too. Services
re-check who may do what (tenancy lives below HTTP), load and lock, write, and enqueue the
outbound work (emails, the credit job) with ``transaction.on_commit`` by dotted path.

Crediting (:func:`dispute_credit_apply`) is one transaction per dispute: lock the dispute, the
account's draft invoices, then the events (the order invoicing uses: invoice row, then its
events), move them, issue the credit note, refresh the drafts, mark the credit issued. A worker
killed half-way leaves nothing behind (PostgreSQL rolls back); a rerun does it all, once. The
credit ledger's unique event and billing's unique credit note per dispute make a second credit
impossible even for a caller that skipped the locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_q.tasks import async_task

from accounts.access import Perm, Principal
from accounts.models import Account, Notification, Role, User
from accounts.notify import notification_send
from billing.invoice_models import Invoice, InvoiceLine, InvoiceStatus
from billing.money import money_display, round_line
from billing.selectors import period_at
from billing.services import credit_note_issue, invoice_draft_refresh
from disputes import conf
from disputes.models import (
    CreditMethod,
    CreditState,
    Dispute,
    DisputeComment,
    DisputeCredit,
    DisputeHistory,
    DisputeItem,
    DisputeStatus,
    DisputeTerms,
    ItemDecision,
    ReasonCode,
    Subject,
)
from disputes.selectors import Refusal, event_refusals, events_of_line, invoice_line_for_account
from disputes.states import IllegalTransition, transition_check
from metering.lifecycle import (
    events_credit_invoiced,
    events_credit_unbilled,
    events_dispute_close,
    events_dispute_open,
)
from metering.models import Event, EventStatus

MAX_EVENTS = 5000  # per dispute; a bigger invoice line is disputed in parts (by events)
MAX_TEXT = 5000
CUSTOMER_ROLES_TOLD = (Role.CUSTOMER_ADMIN, Role.FINANCE_ADMIN)  # who is told (in the app and by email)

# Tests set this to a callable that raises at a named checkpoint ("excluded", "credit_note_issued",
# "events_credited", "drafts_refreshed") to prove a crash half-way credits nothing twice.
fault_injector: Callable[[str], None] | None = None


def _checkpoint(name: str) -> None:
    if fault_injector is not None:
        fault_injector(name)


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


def _history(
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


def _transition(
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
    _history(dispute, subject=machine, from_state=from_state, to_state=to_state, actor=actor, at=at, note=note).save()


def _events_history(
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
            _history(
                dispute,
                subject=Subject.EVENT,
                subject_ref=e.event_id,
                from_state=from_state or e.status,
                to_state=to_state,
                actor=actor,
                at=at,
                note=note,
            )
            for e in events
        ]
    )


def _notify_customer(dispute: Dispute, *, title: str, body: str, now: datetime) -> None:
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


def _money(amount: Decimal | None, currency: str) -> str:
    return money_display(amount or Decimal(0), currency)


# --- Filing ----------------------------------------------------------------------------------


def sla_hours_for(account: Account) -> int:
    terms = DisputeTerms.objects.filter(account=account).first()
    return terms.sla_hours if terms is not None else conf.sla_hours_default()


def _validate(*, reason_code: str, message: str, event_ids, invoice_line_id) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    if reason_code not in ReasonCode.values:
        fields["reason_code"] = [f"One of: {', '.join(ReasonCode.values)}."]
    if not message.strip():
        fields["message"] = ["Tell support what is wrong with these charges."]
    elif len(message) > MAX_TEXT:
        fields["message"] = [f"At most {MAX_TEXT} characters."]
    if (event_ids is None) == (invoice_line_id is None):
        fields["event_ids"] = ["Give either event_ids or invoice_line_id."]
    elif event_ids is not None and not 1 <= len(event_ids) <= MAX_EVENTS:
        fields["event_ids"] = [f"From 1 to {MAX_EVENTS} event IDs."]
    return fields


def _events_named(account: Account, event_ids: list[str]) -> list[Event]:
    """The account's events of these IDs, locked. An unknown ID — or another account's, which is
    the same thing here — is a 404 that names only what the caller sent."""
    wanted = list(dict.fromkeys(event_ids))
    events = list(
        Event.objects.select_for_update(of=("self",))
        .filter(account=account, event_id__in=wanted)
        .select_related("outcome_type")
        .order_by("pk")
    )
    missing = sorted(set(wanted) - {e.event_id for e in events})
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise DisputeRefused("not_found", f"No such event in this account: {shown}.", status=404)
    return events


def _events_of_line(account: Account, invoice_line_id: int) -> tuple[InvoiceLine, list[Event]]:
    line = invoice_line_for_account(account=account, line_id=invoice_line_id)
    if line is None:
        raise DisputeRefused("not_found", "No such invoice line.", status=404)
    if not line.alloc:
        raise DisputeRefused(
            "line_not_disputable",
            f"“{line.description}” is not charged per outcome; only lines of outcomes can be disputed.",
        )
    rows = events_of_line(line=line, limit=MAX_EVENTS + 1)
    if len(rows) > MAX_EVENTS:
        raise DisputeRefused(
            "too_many_events",
            f"This line bills more than {MAX_EVENTS} outcomes; dispute its events from the audit table instead.",
        )
    ids = [e.pk for e in rows]
    events = list(
        Event.objects.select_for_update(of=("self",)).filter(pk__in=ids).select_related("outcome_type").order_by("pk")
    )
    return line, events


def _refusal_error(refusals: dict[int, Refusal], total: int) -> DisputeRefused:
    kinds = {r.kind for r in refusals.values()}
    code = next(
        c
        for k, c in (
            ("in_open_dispute", "event_in_open_dispute"),
            ("credited", "event_already_credited"),
            ("not_billed", "event_not_billed"),
        )
        if k in kinds
    )
    order = {"in_open_dispute": 0, "credited": 1, "not_billed": 2}
    messages = [r.message for r in sorted(refusals.values(), key=lambda r: (order[r.kind], r.event.event_id))]
    noun = "the event" if total == 1 else f"{len(refusals)} of the {total} events"
    return DisputeRefused(code, f"Nothing was filed: {noun} cannot be disputed.", fields={"event_ids": messages[:50]})


def _invoice_of(account: Account, events: list[Event]) -> tuple[Invoice | None, str]:
    """The one invoice the events are on — a finalized one, or the upcoming draft of one period.

    A dispute concerns one invoice, so that its credit note references exactly one; events of
    several invoices are disputed one invoice at a time.
    """
    line_ids = {e.invoice_line_id for e in events if e.invoice_line_id is not None}
    invoice_of_line = dict(InvoiceLine.objects.filter(pk__in=line_ids).values_list("pk", "invoice_id"))
    keys: set[str] = set()
    for e in events:
        if e.invoice_line_id is not None:
            keys.add(f"invoice:{invoice_of_line[e.invoice_line_id]}")
        else:
            keys.add(f"upcoming:{period_at(e.occurred_at, account.timezone)}")
    if len(keys) > 1:
        raise DisputeRefused(
            "events_on_several_invoices",
            "These events are on different invoices. File one dispute per invoice (or per month not yet invoiced).",
            fields={"event_ids": sorted(k.replace(":", " ") for k in keys)},
        )
    (key,) = keys
    kind, ref = key.split(":", 1)
    if kind == "invoice":
        invoice = Invoice.objects.get(pk=int(ref))
        return invoice, invoice.period
    return None, ref


def dispute_file(
    *,
    principal: Principal,
    account: Account,
    reason_code: str,
    message: str,
    event_ids: list[str] | None = None,
    invoice_line_id: int | None = None,
    via: str = "api",
    now: datetime | None = None,
) -> Dispute:
    """File a dispute over billed events (by their IDs, or every still-disputable event of an invoice line).

    Refused (:class:`DisputeRefused`, nothing written): no right (403); another account (404);
    unknown events (404); events not billed, already credited, or in an open dispute (400 — the
    last one also held by the partial unique index, whatever the race); events of several
    invoices (400).
    """
    now = now or timezone.now()
    if not principal.can(Perm.DISPUTES_FILE):
        raise DisputeRefused("permission_denied", "Only a customer admin can file a dispute.", status=403)
    if not principal.sees_account(account.pk):
        raise DisputeRefused("not_found", "No such account.", status=404)
    message = message or ""
    fields = _validate(reason_code=reason_code, message=message, event_ids=event_ids, invoice_line_id=invoice_line_id)
    if fields:
        raise DisputeRefused("validation_error", "The dispute has invalid fields.", fields=fields)
    with transaction.atomic():
        line = None
        if event_ids is not None:
            events = _events_named(account, event_ids)
            refusals = event_refusals(events)
            if refusals:
                raise _refusal_error(refusals, len(events))
        else:
            line, events = _events_of_line(account, invoice_line_id)
            refused = event_refusals(events)
            events = [e for e in events if e.pk not in refused]  # a line: dispute what is still disputable
            if not events:
                raise DisputeRefused(
                    "nothing_to_dispute",
                    "Every outcome of this line is already disputed, credited or not charged.",
                )
        invoice, period = _invoice_of(account, events)
        sla_hours = sla_hours_for(account)
        dispute = Dispute.objects.create(
            account=account,
            status=DisputeStatus.OPEN,
            reason_code=reason_code,
            message=message.strip(),
            invoice_line_id=line.pk if line else None,
            invoice=invoice,
            period=period,
            currency=account.currency,
            amount_at_stake=sum((e.amount or Decimal(0) for e in events), Decimal(0)),
            filed_at=now,
            filed_by=principal.label[:150],
            filed_by_user_id=principal.user_id,
            filed_via=via,
            sla_hours=sla_hours,
            sla_due_at=now + timedelta(hours=sla_hours),
        )
        try:
            with transaction.atomic():
                DisputeItem.objects.bulk_create(
                    [
                        DisputeItem(
                            dispute=dispute, account=account, event=e, amount=e.amount, status_at_filing=e.status
                        )
                        for e in events
                    ]
                )
        except IntegrityError as exc:  # a concurrent filing took one of the events first
            raise DisputeRefused(
                "event_in_open_dispute", "Nothing was filed: an event is already in an open dispute."
            ) from exc
        actor = Actor.of(principal)
        _history(
            dispute,
            subject=Subject.DISPUTE,
            to_state=DisputeStatus.OPEN,
            actor=actor,
            at=now,
            note=f"{len(events)} event(s), {ReasonCode(reason_code).label.lower()}",
        ).save()
        moved = set(events_dispute_open(event_ids=[e.pk for e in events if e.status == EventStatus.INVOICED]))
        _events_history(
            dispute,
            [e for e in events if e.pk in moved],
            from_state=EventStatus.INVOICED,
            to_state=EventStatus.DISPUTED,
            actor=actor,
            at=now,
        )
        _notify_customer(
            dispute,
            title=f"Dispute #{dispute.pk} received",
            body=f"{len(events)} outcome(s), {_money(dispute.amount_at_stake, dispute.currency)} at stake. "
            f"Support answers by {timezone.localtime(dispute.sla_due_at):%b %-d, %H:%M %Z}.",
            now=now,
        )
    return dispute


# --- Support: assignment and the thread -------------------------------------------------------


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
        _history(
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
            _notify_customer(dispute, title=f"Support replied on dispute #{dispute.pk}", body=body[:500], now=now)
    return comment


# --- Resolution -------------------------------------------------------------------------------


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
        if decision == DisputeStatus.APPROVED:
            approved = set(by_event_id) if not event_ids else set(event_ids)
            if approved != set(by_event_id):
                raise DisputeRefused(
                    "validation_error",
                    "Approving credits every event of the dispute.",
                    fields={"event_ids": ["Leave out event_ids to approve all, or use partially_approved."]},
                )
        elif decision == DisputeStatus.PARTIALLY_APPROVED:
            approved = set(event_ids or ())
            unknown = sorted(approved - set(by_event_id))
            if unknown:
                raise DisputeRefused(
                    "validation_error",
                    "Some events are not in this dispute.",
                    fields={"event_ids": [f"{e}: not in dispute #{dispute.pk}." for e in unknown[:50]]},
                )
            if not approved or approved == set(by_event_id):
                raise DisputeRefused(
                    "validation_error",
                    "Choose some, but not all, of the events.",
                    fields={"event_ids": ["Partial approval credits some of the events: to credit all, approve."]},
                )
        else:
            if event_ids:
                raise DisputeRefused(
                    "validation_error",
                    "A rejection credits nothing.",
                    fields={"event_ids": ["Leave out event_ids when rejecting."]},
                )
            approved = set()
        _transition(
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
        back = set(events_dispute_close(event_ids=[i.event_id for i in rejected_items]))
        _events_history(
            dispute,
            [i.event for i in rejected_items if i.event_id in back],
            from_state=EventStatus.DISPUTED,
            to_state=EventStatus.INVOICED,
            actor=actor,
            at=now,
            note="dispute rejected for this event: the charge stands",
        )
        at_stake = sum((i.amount or Decimal(0) for i in items if i.event.event_id in approved), Decimal(0))
        if approved:
            _transition(
                dispute,
                machine="credit",
                to_state=CreditState.PENDING,
                actor=actor,
                at=now,
                note=f"{len(approved)} event(s) to credit",
            )
            dispute_id = dispute.pk
            transaction.on_commit(lambda: async_task("disputes.tasks.dispute_credit", dispute_id))
        words = {
            DisputeStatus.APPROVED: ("approved", f"All {len(items)} outcome(s) will be credited"),
            DisputeStatus.PARTIALLY_APPROVED: (
                "partially approved",
                f"{len(approved)} of {len(items)} outcome(s) will be credited",
            ),
            DisputeStatus.REJECTED: ("rejected", "The charges stand"),
        }[decision]
        amount = f" ({_money(at_stake, dispute.currency)})" if approved else ""
        _notify_customer(
            dispute,
            title=f"Dispute #{dispute.pk} {words[0]}",
            body=f"{words[1]}{amount}." + (f" Support: “{note.strip()}”" if note.strip() else ""),
            now=now,
        )
    return dispute


# --- The credit job ---------------------------------------------------------------------------


def _drafts_refresh(account: Account, periods: Iterable[str], now: datetime) -> Decimal:
    """Refresh the drafts of ``periods`` (creating a missing one); returns the sum of their subtotals."""
    total = Decimal(0)
    for period in sorted(set(periods)):
        invoice = invoice_draft_refresh(account=account, period=period, now=now)
        if invoice.status == InvoiceStatus.DRAFT:
            total += invoice.subtotal
    return total


@dataclass(frozen=True)
class CreditOutcome:
    dispute_id: int
    excluded: int
    on_credit_note: int
    credit_note: str | None
    credited_amount: Decimal


def dispute_credit_apply(*, dispute_id: int, now: datetime | None = None) -> CreditOutcome | None:
    """Credit one approved dispute — all of it, once. None if there is nothing (left) to do.

    * Events not yet invoiced leave the draft: ``non_billable`` / ``dispute_credited`` (decided by
      the engine). What they took off the upcoming invoice is the drafts' subtotal before − after.
    * Events on a finalized invoice get one credit note for the dispute (sequential number, the
      invoice, the events, the dispute), applied to the next invoice as a credit line; they
      become ``credited``. The finalized invoice is never touched.
    """
    now = now or timezone.now()
    with transaction.atomic():
        dispute = (
            Dispute.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(pk=dispute_id, credit_state=CreditState.PENDING)
            .first()
        )
        if dispute is None:
            return None  # credited already, nothing approved, or another worker has it right now
        account = dispute.account
        items = list(dispute.items.filter(decision=ItemDecision.APPROVED).order_by("event_id"))
        ids = [i.event_id for i in items]
        # Lock order as invoicing's: the invoice rows first (the drafts that could bill these events),
        # then the events. A finalization waiting on a draft sees the credited events as they end up.
        current = period_at(now, account.timezone)
        events0 = list(Event.objects.filter(pk__in=ids).only("occurred_at", "invoice_line_id"))
        periods = {current} | {period_at(e.occurred_at, account.timezone) for e in events0 if not e.invoice_line_id}
        subtotal_before = _drafts_refresh(account, periods, now)
        list(Invoice.objects.select_for_update().filter(account=account, status=InvoiceStatus.DRAFT).order_by("pk"))
        events = list(Event.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
        done = set(DisputeCredit.objects.filter(event_id__in=ids).values_list("event_id", flat=True))
        unbilled = [
            e for e in events if e.pk not in done and e.status == EventStatus.BILLABLE and not e.invoice_line_id
        ]
        billed = [
            e
            for e in events
            if e.pk not in done and e.invoice_line_id and e.status in (EventStatus.INVOICED, EventStatus.DISPUTED)
        ]
        untouched = [e for e in events if e not in unbilled and e not in billed]

        # 1. Not yet invoiced: out of the draft.
        moved = set(events_credit_unbilled(event_ids=[e.pk for e in unbilled], now=now))
        excluded = [e for e in unbilled if e.pk in moved]
        DisputeCredit.objects.bulk_create(
            [
                DisputeCredit(
                    dispute=dispute,
                    account=account,
                    event=e,
                    method=CreditMethod.EXCLUSION,
                    amount=e.amount or Decimal(0),
                    created_at=now,
                )
                for e in excluded
            ]
        )
        _events_history(
            dispute,
            excluded,
            from_state=EventStatus.BILLABLE,
            to_state="non_billable · dispute_credited",
            actor=JOB,
            at=now,
            note="left the upcoming invoice",
        )
        _checkpoint("excluded")

        # 2. On a finalized invoice: one credit note for the dispute.
        note = None
        if billed:
            invoice_of = dict(
                InvoiceLine.objects.filter(pk__in={e.invoice_line_id for e in billed}).values_list("pk", "invoice_id")
            )
            invoice_ids = sorted({invoice_of[e.invoice_line_id] for e in billed})
            invoices = {i.pk: i for i in Invoice.objects.filter(pk__in=invoice_ids)}
            finals = [pk for pk in invoice_ids if invoices[pk].status == InvoiceStatus.FINALIZED]
            amount = sum((e.amount or Decimal(0) for e in billed), Decimal(0))
            numbers = ", ".join(invoices[pk].number or "" for pk in invoice_ids)
            if round_line(amount, account.currency) > 0:
                note = credit_note_issue(
                    account=account,
                    amount=amount,
                    reason=f"Dispute #{dispute.pk} {dispute.get_status_display().lower()}: {len(billed)} outcome(s) "
                    f"of invoice {numbers} credited ({ReasonCode(dispute.reason_code).label.lower()}).",
                    invoice_id=finals[0] if len(finals) == 1 else None,
                    event_ids=[e.pk for e in billed],
                    dispute_id=dispute.pk,
                    created_by=JOB.label,
                    now=now,
                )
                _history(
                    dispute,
                    subject=Subject.CREDIT_NOTE,
                    subject_ref=note.number,
                    to_state="issued",
                    actor=JOB,
                    at=now,
                    note=f"{_money(note.amount, note.currency)} on invoice {numbers}",
                ).save()
            _checkpoint("credit_note_issued")
            credited = set(events_credit_invoiced(event_ids=[e.pk for e in billed]))
            method = CreditMethod.CREDIT_NOTE if note is not None else CreditMethod.NO_CHARGE
            DisputeCredit.objects.bulk_create(
                [
                    DisputeCredit(
                        dispute=dispute,
                        account=account,
                        event=e,
                        method=method,
                        amount=e.amount or Decimal(0),
                        invoice_id=invoice_of[e.invoice_line_id],
                        credit_note=note,
                        created_at=now,
                    )
                    for e in billed
                    if e.pk in credited
                ]
            )
            _events_history(
                dispute,
                [e for e in billed if e.pk in credited],
                from_state=None,
                to_state=EventStatus.CREDITED,
                actor=JOB,
                at=now,
                note=f"credit note {note.number}" if note else "no money was charged for it",
            )
        _checkpoint("events_credited")
        for e in untouched:
            if e.pk not in done:
                _history(
                    dispute,
                    subject=Subject.EVENT,
                    subject_ref=e.event_id,
                    from_state=e.status,
                    to_state=e.status,
                    actor=JOB,
                    at=now,
                    note="not credited: it is no longer charged",
                ).save()

        # 3. The drafts follow: excluded events leave, the credit note is applied to the next invoice.
        subtotal_after = _drafts_refresh(account, periods, now)
        _checkpoint("drafts_refreshed")
        excluded_money = round_line(max(subtotal_before - subtotal_after, Decimal(0)), account.currency)
        credited_amount = excluded_money + (note.amount if note is not None else Decimal(0))
        _transition(
            dispute,
            machine="credit",
            to_state=CreditState.ISSUED,
            actor=JOB,
            at=now,
            note=f"{_money(credited_amount, account.currency)} credited",
            credited_amount=credited_amount,
            credited_at=now,
            credit_note=note,
        )
        where = []
        if excluded:
            where.append(f"{len(excluded)} outcome(s) left your upcoming invoice")
        if note is not None:
            where.append(f"credit note {note.number} will be applied to your next invoice")
        _notify_customer(
            dispute,
            title=f"Dispute #{dispute.pk}: {_money(credited_amount, account.currency)} credited",
            body=("; ".join(where) or "Nothing was charged for these outcomes") + ".",
            now=now,
        )
    return CreditOutcome(dispute.pk, len(excluded), len(billed), note.number if note else None, credited_amount)


def disputes_sweep_invoiced(*, now: datetime | None = None) -> int:
    """Events of open disputes that an invoice finalized meanwhile: ``invoiced`` → ``disputed``."""
    now = now or timezone.now()
    items = list(
        DisputeItem.objects.filter(is_open=True, event__status=EventStatus.INVOICED).select_related("dispute", "event")
    )
    if not items:
        return 0
    with transaction.atomic():
        moved = set(events_dispute_open(event_ids=[i.event_id for i in items]))
        for item in items:
            if item.event_id in moved:
                _history(
                    item.dispute,
                    subject=Subject.EVENT,
                    subject_ref=item.event.event_id,
                    from_state=EventStatus.INVOICED,
                    to_state=EventStatus.DISPUTED,
                    actor=JOB,
                    at=now,
                    note="invoiced while the dispute was open",
                ).save()
    return len(moved)


def credit_notes_applied_record(*, now: datetime | None = None) -> int:
    """Record, once, each finalized invoice a dispute's credit note was applied to."""
    now = now or timezone.now()
    lines = (
        InvoiceLine.objects.filter(credit_note__isnull=False, invoice__status=InvoiceStatus.FINALIZED)
        .filter(credit_note__dispute_id__isnull=False)
        .select_related("invoice", "credit_note")
    )
    disputes = {
        d.pk: d for d in Dispute.objects.filter(pk__in={ln.credit_note.dispute_id for ln in lines}).only("account_id")
    }
    rows = [
        _history(
            disputes[ln.credit_note.dispute_id],
            subject=Subject.CREDIT_NOTE,
            subject_ref=f"{ln.credit_note.number} → {ln.invoice.number}",
            from_state="issued",
            to_state="applied",
            actor=JOB,
            at=now,
            note=f"{_money(-ln.amount, ln.invoice.currency)} taken off invoice {ln.invoice.number}",
        )
        for ln in lines
        if ln.credit_note.dispute_id in disputes
    ]
    created = DisputeHistory.objects.bulk_create(rows, ignore_conflicts=True)
    return len(created)


# --- SLA warnings -----------------------------------------------------------------------------


def sla_warnings_send(*, now: datetime | None = None) -> list[int]:
    """Tell support, once per dispute, that an open dispute's SLA ends within the warning time (or has)."""
    now = now or timezone.now()
    due = list(
        Dispute.objects.filter(
            status=DisputeStatus.OPEN, sla_warned_at__isnull=True, sla_due_at__lte=now + conf.sla_warning()
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
            when = "breached" if left.total_seconds() <= 0 else f"due in {int(left.total_seconds() // 3600)} h"
            Notification.objects.create(
                account_id=dispute.account_id,
                kind="dispute_sla",
                roles=[Role.VENDOR_SUPPORT],
                created_at=now,
                title=f"SLA {when}: dispute #{pk} of {dispute.account.name}",
                body=f"{_money(dispute.amount_at_stake, dispute.currency)} at stake; due "
                f"{dispute.sla_due_at:%Y-%m-%d %H:%M} UTC.",
                link=reverse("disputes:detail", args=[dispute.account.external_id, pk]),
            )
            transaction.on_commit(lambda pk=pk: async_task("disputes.tasks.sla_warning_email", pk))
            warned.append(pk)
    return warned


def sla_warning_email(*, dispute_id: int) -> int:
    """Email the SLA warning to support (the assignee, or every active support staff member)."""
    dispute = Dispute.objects.select_related("account", "assignee").filter(pk=dispute_id).first()
    if dispute is None or dispute.status != DisputeStatus.OPEN:
        return 0
    people = User.objects.filter(role=Role.VENDOR_SUPPORT, is_active=True).exclude(email="")
    if dispute.assignee_id and dispute.assignee.email:
        people = people.filter(pk=dispute.assignee_id)
    recipients = sorted(set(people.values_list("email", flat=True)))
    if recipients:
        due = f"{dispute.sla_due_at:%b %-d %H:%M} UTC"
        send_mail(
            f"[OutcomePortal] SLA of dispute #{dispute.pk} ({dispute.account.name}) ends {due}",
            f"{dispute.items.count()} outcome(s), {_money(dispute.amount_at_stake, dispute.currency)} at stake.\n"
            f"{reverse('disputes:detail', args=[dispute.account.external_id, dispute.pk])}",
            None,
            recipients,
        )
    return len(recipients)


# --- The job ----------------------------------------------------------------------------------


@dataclass
class CreditsRun:
    credited: list[int] = field(default_factory=list)
    credit_notes: list[str] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    swept: int = 0
    applications: int = 0
    sla_warned: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "credited": self.credited,
            "credit_notes": self.credit_notes,
            "failed": {str(k): v for k, v in self.failed.items()},
            "events_marked_disputed": self.swept,
            "credit_note_applications": self.applications,
            "sla_warned": self.sla_warned,
        }


def credits_issue(*, now: datetime | None = None) -> CreditsRun:
    """The issue_credits job: credit every approved dispute not yet credited (each in its own
    transaction), mark events invoiced under open disputes, record credit-note applications, and
    warn support of SLAs about to end. Safe to run twice, in parallel, or after a crash."""
    now = now or timezone.now()
    run = CreditsRun()
    run.swept = disputes_sweep_invoiced(now=now)
    pending = list(
        Dispute.objects.filter(credit_state=CreditState.PENDING)
        .order_by("resolved_at", "pk")
        .values_list("pk", flat=True)
    )
    for dispute_id in pending:
        try:
            outcome = dispute_credit_apply(dispute_id=dispute_id, now=now)
        except Exception as exc:  # one dispute's trouble must not hold up the others; retried next run
            run.failed[dispute_id] = f"{type(exc).__name__}: {exc}"[:500]
            continue
        if outcome is not None:
            run.credited.append(outcome.dispute_id)
            if outcome.credit_note:
                run.credit_notes.append(outcome.credit_note)
    run.applications = credit_notes_applied_record(now=now)
    run.sla_warned = sla_warnings_send(now=now)
    return run


__all__ = [
    "Actor",
    "CreditOutcome",
    "DisputeRefused",
    "IllegalTransition",
    "credits_issue",
    "dispute_assign",
    "dispute_comment_add",
    "dispute_credit_apply",
    "dispute_file",
    "dispute_resolve",
    "sla_warnings_send",
]
