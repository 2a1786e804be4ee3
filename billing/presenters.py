"""How invoices, lines, credit notes and contracts read: API dictionaries and plain words.

Shared by the API, the portal pages, the CSV and the PDF, so that all four say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.access import Principal
from accounts.models import Account
from billing.contract_term import TermState, term_state
from billing.contracts import Terms
from billing.invoices.document import rate_str
from billing.invoices.models import CreditNote, Invoice, InvoiceLine
from billing.pricing.models import model_of
from billing.selectors import contract_term_latest
from metering import presenters as metering_presenters
from metering.models import Event, OutcomeType
from outcomeportal.core import formatting
from outcomeportal.core.money import minor_units, money_display, money_str, price_display, round_event


def _iso(value) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def quantity_str(value: Decimal) -> str:
    value = value.normalize()
    return f"{value:f}"


def unit_price_str(value: Decimal | None, currency: str) -> str | None:
    """A unit price as a decimal string: the currency's places, more only if the price has them."""
    if value is None:
        return None
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    places = max(minor_units(currency), -exponent if exponent < 0 else 0)
    return f"{value:.{places}f}"


def line_dict(line: InvoiceLine, currency: str, events_url: str | None) -> dict:
    return {
        "id": line.pk,
        "description": line.description,
        "outcome_type": line.outcome_type.code if line.outcome_type_id else None,
        "quantity": quantity_str(line.quantity),
        "unit_price": unit_price_str(line.unit_price, currency),
        "amount": money_str(line.amount, currency),
        "kind": line.kind,
        "credits": None if line.credits is None else quantity_str(line.credits),
        "unit_credits": None if line.unit_credits is None else quantity_str(line.unit_credits),
        "period_of_events": line.alloc["segment"] if line.alloc else None,
        "events_url": events_url,
    }


def invoice_dict(invoice: Invoice, *, events_url: Callable[[Invoice, InvoiceLine], str | None]) -> dict:
    currency = invoice.currency
    lines = list(invoice.lines.select_related("outcome_type").order_by("position"))
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "account": invoice.account.external_id,
        "period": invoice.period,
        "status": invoice.status,
        "currency": currency,
        "subtotal": money_str(invoice.subtotal, currency),
        "credits_applied": money_str(invoice.credits_applied, currency),
        "total": money_str(invoice.total, currency),
        "lines": [line_dict(ln, currency, events_url(invoice, ln)) for ln in lines],
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "finalized_at": _iso(invoice.finalized_at),
        "voided_at": _iso(invoice.voided_at),
        "refreshed_at": _iso(invoice.refreshed_at),
        "contract_version": invoice.contract_version.version if invoice.contract_version_id else None,
        "notes": invoice.notes,
        "void_reason": invoice.void_reason or None,
        **invoice_reissue_dict(invoice),
        **invoice_document_dict(invoice),
    }


def invoice_reissue_dict(invoice: Invoice) -> dict:
    """Void and reissue: the invoice a void one was reissued as, and the void one a reissue replaces."""
    replaced_by = None
    if invoice.status == "void":  # (a query for void invoices only: lists stay one query)
        replaced_by = Invoice.objects.filter(replaces_id=invoice.pk).values_list("pk", flat=True).first()
    return {"replaces": invoice.replaces_id, "replaced_by": replaced_by}


def invoice_document_dict(invoice: Invoice) -> dict:
    """The document's fields (billing.invoices.document): dates, parties, tax, what is paid and due."""
    currency = invoice.currency
    return {
        "issued_at": _iso(invoice.issued_at),
        "due_at": _iso(invoice.due_at),
        "payment_terms_days": invoice.payment_terms_days,
        "seller": invoice.seller or None,
        "buyer": invoice.buyer or None,
        "tax_rate": rate_str(invoice.tax_rate),
        "tax_amount": money_str(invoice.tax_amount, currency),
        "tax_note": invoice.tax_note,
        "total_with_tax": money_str(invoice.total_with_tax, currency),
        "amount_credited": money_str(invoice.amount_credited, currency),
        "amount_paid": money_str(invoice.amount_paid, currency),
        "amount_due": money_str(invoice.amount_due, currency),
        "payment_status": invoice.payment_status,
        "paid_at": _iso(invoice.paid_at),
    }


def invoice_summary_dict(invoice: Invoice) -> dict:
    """An invoice without its lines, as webhooks announce it (``invoice.finalized``)."""
    currency = invoice.currency
    return {
        "id": invoice.pk,
        "number": invoice.number,
        "account": invoice.account.external_id,
        "period": invoice.period,
        "status": invoice.status,
        "currency": currency,
        "total": money_str(invoice.total, currency),
        **invoice_document_dict(invoice),
    }


def credit_note_dict(note: CreditNote, *, event_ids: list[str]) -> dict:
    """``event_ids``: the platform's event ids of the credited events (billing.selectors.credit_note_event_ids)."""
    return {
        "id": note.pk,
        "number": note.number,
        "account": note.account.external_id,
        "invoice_id": note.invoice_id,
        "amount": money_str(note.amount, note.currency),
        "currency": note.currency,
        "reason": note.reason,
        "event_ids": event_ids,
        "dispute_id": note.dispute_id,
        "created_at": _iso(note.created_at),
    }


def event_row(event: Event, *, invoice_id: int | None, principal: Principal) -> dict:
    """An event as the events API lists it: metering's facts and decision, read with its charge (one
    status, one reason: billing.ledger.shown) and what the charge adds to its invoice, with the
    invoice it is billed on. The event must carry its charge (billing.ledger.selectors.attach_charges)."""
    row = {}
    for key, value in metering_presenters.event_row(event, principal=principal).items():
        if key == "status":
            value = event.shown_status
        elif key == "non_billable_reason":
            value = event.shown_reason or None
        row[key] = value
        if key == "non_billable_reason":
            row["amount"] = None if event.charged is None else str(event.charged)
            row["currency"] = event.currency or event.account.currency
            row["credits"] = None if event.charged is None or event.credits is None else str(event.credits)
            row["invoice_id"] = invoice_id if event.invoice_line_id else None
            row["invoice_line_id"] = event.invoice_line_id
    return row


# --- The plan in plain words (the domain's pricing-page template) ---------------------------


def line_event_amount(line: InvoiceLine, event: Event) -> tuple[Decimal | None, Decimal | None]:
    """What one event adds to the line it is listed on: (money, credits).

    The line's own unit, not the event's provisional price: an event inside a platform fee's
    allowance adds 0 on a draft as on a final invoice; a gain-share event its share of the value;
    an event listed on a ticket-fee line the ticket fee (its automation fee is on the other line).
    """
    if line.kind == "included":
        return Decimal(0), None
    alloc = line.alloc or {}
    if alloc.get("gain_share"):
        percent, baseline = (Decimal(v) for v in alloc["gain_share"])
        return round_event(percent / 100 * max((event.value_amount or Decimal(0)) - baseline, Decimal(0))), None
    if line.unit_credits:
        return None, line.unit_credits
    return line.unit_price, None


def line_event_charge(line: InvoiceLine, event: Event, currency: str) -> str:
    """:func:`line_event_amount` for people: "included", "$0.75", "50 credits"."""
    if line.kind == "included":
        return "included"
    amount, credits = line_event_amount(line, event)
    if credits is not None:
        return f"{credits.normalize():,f} credits"
    return "" if amount is None else price_display(amount, currency)


def line_event_row(event: Event, *, invoice: Invoice, line: InvoiceLine, principal: Principal) -> dict:
    """An event behind a line, as the API lists it: the events API's fields, plus what it adds to
    this line (``line_amount`` / ``line_credits``; ``included`` inside a platform fee's allowance)."""
    amount, credits = line_event_amount(line, event)
    return {
        **event_row(event, invoice_id=invoice.pk, principal=principal),
        "line_amount": None if amount is None else str(amount),
        "line_credits": None if credits is None else str(credits),
        "included": line.kind == "included",
    }


def _p(amount: Decimal, currency: str) -> str:
    return price_display(amount, currency)


def _price_words(terms: Terms, p, currency: str, names: dict[str, str]) -> str:
    name = names.get(p.outcome_type, p.outcome_type)
    model = model_of(p)
    in_credits = terms.in_credits and not model.money_only

    def fmt(value: Decimal) -> str:
        if in_credits:
            money = _p(value * terms.credit_price, currency)
            return f"{value.normalize():f} credits ({money})"
        return _p(value, currency)

    per = "conversation" if terms.basis == "per_conversation" else "outcome"
    return f"{name}: {model.words(p, fmt=fmt, currency=currency, per=per)}"


_LATEST = object()  # "not given": read the latest contract version's term


def plan_sentences(*, account: Account, terms: Terms, candidate: bool = False, term=_LATEST) -> list[str]:
    """The prices and included amounts of the account's contract, sentence by sentence, then its term
    as last agreed (the latest version's, :func:`billing.selectors.contract_term_latest`, unless the
    caller read it already and passes it as ``term``) — or, for a ``candidate`` contract being
    edited, the term it states."""
    out = terms_sentences(terms=terms, currency=account.currency)
    if candidate:
        term = terms.term
    elif term is _LATEST:
        term = contract_term_latest(account_id=account.pk)
    if term is not None:
        out.append(term_sentence(term_state(term, on=_account_today(account))))
    return out


def account_term_json(account: Account, term=_LATEST) -> dict | None:
    """The term as last agreed, as the API's contract answer states it (dates in the account's zone);
    ``term``: the latest version's, if the caller read it already."""
    if term is _LATEST:
        term = contract_term_latest(account_id=account.pk)
    if term is None:
        return None
    state = term_state(term, on=_account_today(account))
    return {
        "number": state.number,
        "starts": state.starts.isoformat(),
        "ends": state.last_day.isoformat(),
        "renewal": "auto" if state.renews else "none",
        "renews_on": state.next_day.isoformat() if state.renews else None,
        "notice_by": state.notice_by.isoformat() if state.notice_by else None,
        "status": "not_started" if state.not_started else "ended" if state.ended else "running",
        "sentence": term_sentence(state),
    }


def _account_today(account: Account):
    return timezone.localdate(timezone=ZoneInfo(account.timezone))


def term_sentence(state: TermState) -> str:
    """The contract's term and renewal in one sentence (the term as it stands on ``state.on``)."""
    span = f"{formatting.day(state.starts)} to {formatting.day(state.last_day)}"
    if state.not_started:
        head = f"Contract term: from {span}"
    elif state.ended:
        return (
            f"Contract term: ended on {formatting.day(state.last_day)} without renewal; these terms continue "
            "month to month until a new contract is agreed."
        )
    else:
        ordinal = "" if state.number == 1 else f" (renewal {state.number - 1})"
        head = f"Contract term{ordinal}: {span}"
    if not state.renews:
        return f"{head}. It ends then and does not renew."
    if state.notice_by < state.on:
        return (
            f"{head}. It renews on {formatting.day(state.next_day)} for "
            f"{formatting.plural(state.renewal_months, 'month')}: the notice date ({formatting.day(state.notice_by)}) "
            "has passed."
        )
    return (
        f"{head}. It renews automatically for {formatting.plural(state.renewal_months, 'month')} unless notice "
        f"is given by {formatting.day(state.notice_by)}."
    )


def terms_sentences(*, terms: Terms, currency: str) -> list[str]:
    """The prices and included amounts of ``terms`` in ``currency``, sentence by sentence (a plan's
    price book as well as one account's contract)."""
    names = dict(OutcomeType.objects.values_list("code", "name"))
    out = []
    if terms.basis == "per_conversation":
        out.append("You chose to pay per conversation: every conversation counts, resolved or not.")
    if terms.in_credits:
        out.append(f"Prices are in credits. One credit is worth {_p(terms.credit_price, currency)}.")
    out += [_price_words(terms, p, currency, names) for p in terms.prices]
    out.append("Any other outcome type is charged at its catalogue price.")
    pf = terms.platform_fee
    if pf is not None:
        text = f"{pf.name}: {money_display(pf.amount, currency)} a month"
        if pf.included_outcomes:
            covered = ", ".join(names.get(t, t) for t in pf.included_types) or "all outcomes"
            text += f", including {pf.included_outcomes:,} outcomes ({covered}); beyond them the prices above apply"
        if pf.included_credits:
            text += (
                f", including {pf.included_credits.normalize():,f} credits; credits beyond them cost "
                f"{_p(terms.credit_price, currency)} each. Unused credits "
                + ("roll over while your account is active" if pf.rollover else "expire at the end of the month")
            )
        out.append(text + ".")
    cm = terms.commitment
    if cm is not None:
        how = (
            "invoiced up front and drawn down by your outcomes; outcomes beyond it are billed as overage"
            if cm.prepaid
            else "billed monthly as you use it; if your outcomes fall short by the end of the term, "
            "a true-up line bills the difference; above it, outcomes are simply billed"
        )
        out.append(
            f"Committed spend: {money_display(cm.amount, currency)} over {cm.months} months from {cm.start}, {how}."
        )
    if terms.monthly_minimum is not None:
        out.append(f"Monthly minimum: {money_display(terms.monthly_minimum, currency)} of outcome charges.")
    if (g := terms.guarantee) is not None:
        name = names.get(g.outcome_type, g.outcome_type)
        out.append(
            f"Outcome guarantee: each month, at least {(g.min_attainment * 100).normalize():f} % of the "
            f"{name} outcomes attempted for you are billable (attainment; outcomes still in their window, "
            "sandbox, duplicates and free, capped or credited ones are not counted). If a month closes below "
            f"that, its invoice credits {g.credit_percent_per_point.normalize():f} % of that month's {name} "
            "charges for each percentage point short, at most those charges."
        )
    ob = terms.onboarding
    if ob is not None:
        if ob.training_until:
            out.append(
                f"Free training window: outcomes before {formatting.day(ob.training_until)} are not charged "
                "(shown as “Free training window”)."
            )
        if ob.pilot_free_outcomes:
            free = formatting.count(ob.pilot_free_outcomes)
            out.append(f"Pilot: your first {free} outcomes are free (“Free pilot allowance”).")
        if ob.implementation_fee:
            out.append(f"Implementation fee: {money_display(ob.implementation_fee, currency)}, billed once.")
    lock = terms.price_lock
    if lock is not None:
        out.append(
            f"Price lock: until {formatting.day(lock.ends)} ({formatting.plural(lock.days, 'day')}), "
            "your outcome charges never exceed your "
            f"previous plan's {money_display(lock.previous_plan_cost, currency)} a month — the difference is shown "
            "as a discount line."
        )
    return out


# --- The invoice document's totals, as the page, the PDF and the email print them ----------------


def invoice_totals(invoice: Invoice) -> list[tuple[str, str, bool]]:
    """(label, amount for people, emphasised) from the invoice's stored figures, top to bottom."""
    cur = invoice.currency
    rows = [
        ("Subtotal", money_display(invoice.subtotal, cur), False),
        ("Credits applied", money_display(-invoice.credits_applied, cur), False),
        ("Total before tax", money_display(invoice.total, cur), False),
        (f"Tax ({rate_str(invoice.tax_rate)} %)", money_display(invoice.tax_amount, cur), False),
        ("Total", money_display(invoice.total_with_tax, cur), True),
    ]
    if invoice.payment_status is not None:
        rows.append(("Amount paid", money_display(-invoice.amount_paid, cur), False))
        rows.append(("Amount due", money_display(invoice.amount_due, cur), True))
    return rows


def invoice_dates(invoice: Invoice) -> list[tuple[str, str]]:
    """(label, date) of the document: issue date, due date, service period, in the account's zone."""
    from_ = invoice.period_start.astimezone(_zone(invoice)).date()
    to = (invoice.period_end.astimezone(_zone(invoice)) - _ONE_DAY).date()
    rows = []
    if invoice.issued_at:
        rows.append(("Issue date", _day(invoice.issued_at, invoice)))
    if invoice.due_at:
        rows.append(("Due date", f"{_day(invoice.due_at, invoice)} (net {invoice.payment_terms_days})"))
    else:
        rows.append(("Payment terms", f"net {formatting.plural(invoice.payment_terms_days, 'day')} from issue"))
    rows.append(("Service period", formatting.days(from_, to)))
    return rows


_ONE_DAY = timedelta(days=1)


def _zone(invoice: Invoice) -> ZoneInfo:
    return ZoneInfo(invoice.account.timezone)


def _day(value, invoice: Invoice) -> str:
    return formatting.day(value.astimezone(_zone(invoice)))
