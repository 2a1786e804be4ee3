"""Filing a dispute: by event IDs or an invoice line; refused with the contract's errors, writing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import Perm, Principal
from accounts.models import Account
from billing.invoices.models import Invoice, InvoiceLine
from billing.ledger.selectors import attach_charges, charges_locked
from billing.ledger.services import charges_dispute_open
from billing.services import invoice_events_link_pending
from disputes import conf
from disputes.models import (
    Dispute,
    DisputeItem,
    DisputeStatus,
    DisputeTerms,
    ReasonCode,
    Subject,
)
from disputes.selectors import Refusal, event_refusals, events_of_line, invoice_line_for_account
from disputes.services.common import (
    MAX_EVENTS,
    MAX_TEXT,
    Actor,
    DisputeRefused,
    events_history,
    history_row,
    money_text,
    notify_customer,
)
from metering.models import Event
from outcomeportal.core import formatting
from outcomeportal.core.periods import period_at


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
    return attach_charges(events, charges_locked(e.pk for e in events))


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
    return line, attach_charges(events, charges_locked(ids))


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
    invoice_events_link_pending(account=account)  # an invoice just finalized: its events on their lines
    with transaction.atomic():
        line, events = _events_to_dispute(account, event_ids, invoice_line_id)
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
        _items_create(dispute, account, events)
        actor = Actor.of(principal)
        history_row(
            dispute,
            subject=Subject.DISPUTE,
            to_state=DisputeStatus.OPEN,
            actor=actor,
            at=now,
            note=f"{formatting.plural(len(events), 'event')}, {ReasonCode(reason_code).label.lower()}",
        ).save()
        moved = set(charges_dispute_open(event_ids=[e.pk for e in events if e.shown_status == "invoiced"]))
        events_history(
            dispute,
            [e for e in events if e.pk in moved],
            from_state="invoiced",
            to_state="disputed",
            actor=actor,
            at=now,
        )
        due = timezone.localtime(dispute.sla_due_at, ZoneInfo(account.timezone))  # the customer's own clock
        notify_customer(
            dispute,
            title=f"Dispute #{dispute.pk} received",
            body=f"{formatting.plural(len(events), 'outcome')}, "
            f"{money_text(dispute.amount_at_stake, dispute.currency)} at stake. "
            f"Support answers by {formatting.moment(due, with_zone=True)} ({account.timezone}).",
            now=now,
        )
    return dispute


def _events_to_dispute(account: Account, event_ids: list[str] | None, invoice_line_id: int | None):
    """(the line, the events) a filing names: events by ID, every one disputable (else refused); or
    an invoice line's events that are still disputable."""
    if event_ids is not None:
        events = _events_named(account, event_ids)
        refusals = event_refusals(events)
        if refusals:
            raise _refusal_error(refusals, len(events))
        return None, events
    line, events = _events_of_line(account, invoice_line_id)
    refused = event_refusals(events)
    events = [e for e in events if e.pk not in refused]  # a line: dispute what is still disputable
    if not events:
        raise DisputeRefused(
            "nothing_to_dispute",
            "Every outcome of this line is already disputed, credited or not charged.",
        )
    return line, events


def _items_create(dispute: Dispute, account: Account, events: list) -> None:
    """One item per event; the partial unique index refuses an event already in an open dispute."""
    try:
        with transaction.atomic():
            DisputeItem.objects.bulk_create(
                [
                    DisputeItem(
                        dispute=dispute, account=account, event=e, amount=e.amount, status_at_filing=e.shown_status
                    )
                    for e in events
                ]
            )
    except IntegrityError as exc:  # a concurrent filing took one of the events first
        raise DisputeRefused(
            "event_in_open_dispute", "Nothing was filed: an event is already in an open dispute."
        ) from exc
