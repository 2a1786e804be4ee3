"""Portal pages of invoicing: invoices, a line's events, printable/PDF/CSV, "Your plan", contracts.

Function-based and thin: check who is asking (404 for another account's invoice, the same as
for a missing one), call a selector or service, render.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from accounts.access import Perm, Principal
from accounts.models import Account
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal
from accounts.services import BillingDetailsInvalid, account_billing_details_update
from billing import pdf, presenters
from billing.contract_form import (
    ContractEditor,
    blank_document,
    contract_form_preview,
    json_document,
    pasted_document,
)
from billing.contracts import TermsInvalid, terms_load
from billing.delivery.selectors import deliveries_list
from billing.invoices import corrections
from billing.invoices.document import invoice_is_overdue
from billing.invoices.models import Invoice, InvoiceLine, InvoiceStatus
from billing.invoices.parties import buyer_party, seller_party
from billing.ledger.shown import REASONS
from billing.plan_page import plan_page
from billing.plans.models import PlanMember
from billing.receivables.selectors import invoice_payments, invoice_status_history
from billing.selectors import (
    billed_charges,
    contract_versions,
    credit_notes_for_principal,
    invoice_events_pending,
    invoice_get_for_principal,
    invoice_line_get,
    invoice_list,
    line_events,
)
from billing.services import contract_version_create, invoice_draft_current
from metering.models import Event
from outcomeportal.core import csvsafe
from outcomeportal.core.cursors import keyset_decode, keyset_encode
from outcomeportal.core.money import money_display, price_display

PAGE = 100


def _principal(request, perm: Perm = Perm.INVOICES_READ) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(perm):
        raise PermissionDenied
    return principal


def _account(request, external_id: str, perm: Perm = Perm.INVOICES_READ) -> tuple[Principal, Account]:
    principal = _principal(request, perm)
    return principal, account_get_for_principal(principal=principal, external_id=external_id)


def _render(request, account: Account | None, template: str, context: dict):
    zone = ZoneInfo(account.timezone) if account else timezone.get_current_timezone()
    with timezone.override(zone):
        return render(request, template, {"portal_account": account, **context})


def _line_rows(invoice: Invoice) -> list[dict]:
    rows = []
    for line in invoice.lines.select_related("outcome_type").order_by("position"):
        rows.append(
            {
                "line": line,
                "quantity": presenters.quantity_str(line.quantity),
                "unit_price": _unit_text(line, invoice.currency),
                "amount": money_display(line.amount, invoice.currency),
                "url": reverse("billing:invoice_line", args=[invoice.account.external_id, invoice.pk, line.pk])
                if line.alloc
                else None,
            }
        )
    return rows


def _unit_text(line: InvoiceLine, currency: str) -> str:
    if line.unit_credits is not None:
        return f"{presenters.quantity_str(line.unit_credits)} credits"
    return "" if line.unit_price is None else price_display(line.unit_price, currency)


# --- Invoices -------------------------------------------------------------------------------


@login_required
@require_GET
def invoices(request, account: str):
    """Every invoice of the account, each with its lines: a line is one click from its events."""
    _, account = _account(request, account)
    principal = principal_of(request)
    draft = invoice_draft_current(account=account)
    rows = [
        {
            "invoice": inv,
            "lines": _line_rows(inv),
            "total": money_display(inv.total_with_tax, inv.currency),
            "amount_due": money_display(inv.amount_due, inv.currency),
            "overdue": invoice_is_overdue(inv, now=timezone.now()),
        }
        for inv in invoice_list(principal=principal, account=account, limit=60)
    ]
    notes = credit_notes_for_principal(principal=principal).filter(account=account).order_by("-number")[:100]
    credit_notes = [{"note": n, "amount": money_display(n.amount, n.currency)} for n in notes]
    return _render(
        request, account, "billing/invoices.html", {"rows": rows, "draft": draft, "credit_notes": credit_notes}
    )


@login_required
@require_GET
def credit_note_pdf(request, account: str, credit_note_id: int):
    """A credit note as a document of its own (the PDF its email carried)."""
    principal, account_obj = _account(request, account)
    note = credit_notes_for_principal(principal=principal).filter(account=account_obj, pk=credit_note_id).first()
    if note is None:
        raise Http404("No such credit note.")
    invoice_number = Invoice.objects.filter(pk=note.invoice_id).values_list("number", flat=True).first()
    body = pdf.credit_note_pdf(
        note,
        seller=seller_party(vendor_id=account_obj.vendor_id),
        buyer=buyer_party(account=account_obj),
        invoice_number=invoice_number,
    )
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{note.number}-{account_obj.external_id}.pdf"'
    return response


def _invoice(request, account: str, invoice_id: int) -> tuple[Principal, Invoice]:
    principal, account_obj = _account(request, account)
    invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
    if invoice.account_id != account_obj.pk:
        raise Http404("No such invoice.")
    return principal, invoice_draft_current(account=invoice.account, invoice=invoice)


@login_required
@require_GET
def invoice_detail(request, account: str, invoice_id: int):
    principal, invoice = _invoice(request, account, invoice_id)
    context = _invoice_context(invoice)
    if invoice.payment_status:  # where its money stands: everyone of the account sees the payments
        payments = invoice_payments(invoice=invoice)
        for p in payments:
            p.amount_text = money_display(p.amount, p.currency)
        context |= {
            "payments": payments,
            "history": invoice_status_history(invoice=invoice) if principal.is_vendor else [],
            "can_collect": principal.can(Perm.RECEIVABLES_MANAGE),
            "amount_due_plain": presenters.money_str(invoice.amount_due, invoice.currency),
            "today": timezone.localdate(timezone=ZoneInfo(invoice.account.timezone)),
        }
    if principal.is_vendor:  # who it was sent to, and whether it arrived: the vendor's
        context["deliveries"] = deliveries_list(principal=principal, invoice=invoice, limit=50)
    context |= _reissue_context(invoice, principal)
    return _render(request, invoice.account, "billing/invoice.html", context)


def _reissue_context(invoice: Invoice, principal: Principal) -> dict:
    """Void and reissue on the invoice page: what it replaces or was replaced by, and whether the
    operator may void it (final, nothing paid: the service refuses the rest, with its reason)."""
    final = invoice.status == InvoiceStatus.FINALIZED
    return {
        "replaces": invoice.replaces,
        "replaced_by": Invoice.objects.filter(replaces=invoice).first()
        if invoice.status == InvoiceStatus.VOID
        else None,
        "can_void": final and principal.can(Perm.INVOICES_CORRECT),
        "voidable": final and invoice.amount_paid == 0 and invoice.payment_status in ("open", "uncollectible"),
    }


@login_required
@require_http_methods(["POST"])
def invoice_void(request, invoice_id: int):
    """A vendor operator voids an unpaid final invoice; its period is reissued as a new draft."""
    principal = _principal(request, Perm.INVOICES_CORRECT)
    invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
    back = reverse("billing:invoice", args=[invoice.account.external_id, invoice.pk])
    if request.POST.get("confirm") != "yes":
        messages.error(request, "Not voided: tick the box that confirms what voiding does.")
        return redirect(back)
    try:
        done = corrections.invoice_void(invoice=invoice, reason=request.POST.get("reason", ""), by=principal.label)
    except corrections.CorrectionRefused as exc:
        messages.error(request, f"Not voided: {exc}")
        return redirect(back)
    messages.success(
        request,
        f"Invoice {invoice.number} is void. {invoice.period} is reissued: the replacement below is a draft until the "
        "next hourly run issues it.",
    )
    return redirect(reverse("billing:invoice", args=[invoice.account.external_id, done.replacement.pk]))


def _invoice_context(invoice: Invoice) -> dict:
    return {
        "invoice": invoice,
        "lines": _line_rows(invoice),
        "totals": presenters.invoice_totals(invoice),
        "dates": presenters.invoice_dates(invoice),
        "amount_due": money_display(invoice.amount_due, invoice.currency),
        "overdue": invoice_is_overdue(invoice, now=timezone.now()),
        "total": money_display(invoice.total_with_tax, invoice.currency),
        "api_url": reverse("api:invoice", args=[invoice.pk]),
        "events_pending": invoice_events_pending(invoice=invoice),
    }


@login_required
@require_GET
def invoice_print(request, account: str, invoice_id: int):
    _, invoice = _invoice(request, account, invoice_id)
    return _render(request, invoice.account, "billing/invoice_print.html", _invoice_context(invoice))


@login_required
@require_GET
def invoice_pdf(request, account: str, invoice_id: int):
    _, invoice = _invoice(request, account, invoice_id)
    body = pdf.invoice_pdf(invoice)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(invoice)}.pdf"'
    return response


def _filename(invoice: Invoice) -> str:
    return f"{invoice.number or 'draft'}-{invoice.account.external_id}-{invoice.period}"


@login_required
@require_GET
def invoice_lines_csv(request, account: str, invoice_id: int):
    _, invoice = _invoice(request, account, invoice_id)
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(["invoice", "period", "line_id", "description", "outcome_type", "quantity", "unit_price",
                     "credits", "amount", "currency"])  # fmt: skip
    for line in invoice.lines.select_related("outcome_type").order_by("position"):
        writer.writerow(
            [invoice.number or "draft", invoice.period, line.pk, line.description,
             line.outcome_type.code if line.outcome_type_id else "", presenters.quantity_str(line.quantity),
             presenters.unit_price_str(line.unit_price, invoice.currency) or "",
             "" if line.credits is None else presenters.quantity_str(line.credits),
             presenters.money_str(line.amount, invoice.currency), invoice.currency]
        )  # fmt: skip
    writer.writerow(["", "", "", "Total", "", "", "", "", presenters.money_str(invoice.total, invoice.currency),
                     invoice.currency])  # fmt: skip
    return _csv(out.getvalue(), f"{_filename(invoice)}-lines.csv")


def _csv(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


EVENT_COLUMNS = [
    "event_id",
    "occurred_at",
    "outcome_type",
    "complexity",
    "channel",
    "workflow",
    "status",
    "non_billable_reason",
    "verification_method",
    "amount",
    "credits",
    "line_id",
    "source_url",
    "time_zone",  # the zone of occurred_at (ISO 8601, with its offset): the account's
]


def _event_csv_row(e: Event, line: InvoiceLine, zone: ZoneInfo) -> list:
    """One event of a line: its amount and credits are what it adds to that line (as on the page)."""
    amount, credits = presenters.line_event_amount(line, e)
    return [e.event_id, e.occurred_at.astimezone(zone).isoformat(), e.outcome_type.code, e.complexity, e.channel,
            e.workflow, e.status, e.non_billable_reason, e.verification_method, "" if amount is None else str(amount),
            "" if credits is None else str(credits), line.pk, e.source_url, zone.key]  # fmt: skip


@login_required
@require_GET
def invoice_events_csv(request, account: str, invoice_id: int):
    """Every event billed on the invoice (or, for a draft, every event its lines would bill)."""
    _, invoice = _invoice(request, account, invoice_id)
    out = io.StringIO()
    writer = csvsafe.writer(out)
    writer.writerow(EVENT_COLUMNS)
    zone = ZoneInfo(invoice.account.timezone)
    only = request.GET.get("line")
    for line in invoice.lines.order_by("position"):
        if not line.alloc or (only and str(line.pk) != only):
            continue
        before = None
        while True:
            page = line_events(invoice=invoice, line=line, before=before, limit=5000)
            for e in page:
                writer.writerow(_event_csv_row(e, line, zone))
            if len(page) < 5000:
                break
            before = (page[-1].occurred_at, page[-1].pk)
    suffix = f"-line-{only}" if only else ""
    return _csv(out.getvalue(), f"{_filename(invoice)}-events{suffix}.csv")


@login_required
@require_GET
def invoice_line(request, account: str, invoice_id: int, line_id: int):
    """The exact events behind one line — with a day-by-day summary ("48 on June 12th")."""
    principal, invoice = _invoice(request, account, invoice_id)
    line = invoice_line_get(invoice=invoice, line_id=line_id)
    before = keyset_decode(request.GET.get("cursor", ""))  # a cursor not written here: the first page
    events = line_events(invoice=invoice, line=line, before=before, limit=PAGE + 1)
    page, more = events[:PAGE], len(events) > PAGE
    zone = ZoneInfo(invoice.account.timezone)
    days = _days(invoice, line, zone)
    return _render(
        request,
        invoice.account,
        "billing/invoice_line.html",
        {
            "invoice": invoice,
            "line": line,
            "row": next(r for r in _line_rows(invoice) if r["line"].pk == line.pk),
            "events": [(e, presenters.line_event_charge(line, e, invoice.currency)) for e in page],
            "reasons": REASONS,
            "days": days,
            "show_cost": principal.can(Perm.COST_READ),
            "next_url": f"?cursor={keyset_encode(page[-1].occurred_at, page[-1].pk)}" if more else None,
            "api_url": reverse("api:invoice-line-events", args=[invoice.pk, line.pk]),
            "audit_url": reverse("audit:events", args=[invoice.account.external_id]) + f"?line={line.pk}",
        },
    )


def _days(invoice: Invoice, line: InvoiceLine, zone: ZoneInfo) -> list[dict]:
    """Per local day: how many of the line's events, and what they were charged (final invoices;
    the first 62 days). One GROUP BY in the database, whatever the number of events."""
    if invoice.status == InvoiceStatus.DRAFT:
        return []
    rows = (
        billed_charges(account_id=invoice.account_id, line_ids=[line.pk])
        .annotate(day=TruncDate("occurred_at", tzinfo=zone))
        .values("day")
        .annotate(events=Count("event_id"), amount=Sum("amount"))
        .order_by("day")[:62]
    )
    return [
        {"day": r["day"], "events": r["events"], "amount": money_display(r["amount"] or 0, invoice.currency)}
        for r in rows
    ]


# --- Your plan ------------------------------------------------------------------------------


@login_required
@require_GET
def plan(request, account: str):
    """Your plan: the prices and contract terms in plain words, generated from the contract
    (billing.plan_page). The definitions and the "not charged" reasons are What counts' — linked."""
    principal, account = _account(request, account, Perm.EVENTS_READ)
    return _render(
        request,
        account,
        "billing/plan.html",
        {"plan": plan_page(account=account), "can_manage": principal.can(Perm.CATALOGUE_MANAGE)},
    )


# --- Contracts (vendor operators) -----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def contract(request, account: str):
    """Vendor operators: the account's contract as a form (billing/contract_form/), prefilled from
    its latest version, with a live preview; or, under "Advanced", its JSON document. Saving creates
    a new version. The POST's ``action``: ``save``; ``json`` (save the pasted document) or
    ``json_load`` (put it in the form, unsaved); anything else previews (htmx: the preview alone)."""
    _, account = _account(request, account, Perm.CATALOGUE_MANAGE)
    versions = contract_versions(account=account)
    start = versions[0].terms if versions else blank_document(today=datetime.now(ZoneInfo(account.timezone)).date())
    action = request.POST.get("action", "")
    context = {
        "versions": versions,
        "document": json.dumps(start, indent=2),
        "json_errors": None,
        "plan_member": PlanMember.objects.filter(account=account).select_related("plan").first(),
    }
    editor, terms = ContractEditor(document=start), terms_load(start)
    try:
        if action in ("json", "json_load"):
            context["document"] = request.POST.get("document", "")
            if action == "json":
                return _contract_saved(request, account, json_document(context["document"]))
            start = pasted_document(context["document"])
            editor, terms = ContractEditor(document=start), terms_load(start)
            messages.info(request, "The document is in the form: not saved yet.")
        elif action:
            editor = ContractEditor(request.POST, document=start)
            terms = editor.terms if editor.is_valid() else None
            if action == "save" and terms is not None:
                return _contract_saved(request, account, editor.change)
    except TermsInvalid as exc:
        if action == "save":  # the catalogue changed since the form was checked
            editor.add_terms_errors(exc.fields)
            terms = None
        else:
            context["json_errors"] = exc.fields
    context |= {"editor": editor, "preview": contract_form_preview(account=account, terms=terms) if terms else None}
    if request.htmx and action == "preview":
        return _render(request, account, "billing/contract.html#preview", context)
    return _render(request, account, "billing/contract.html", context)


def _contract_saved(request, account: Account, document: object):
    version = contract_version_create(account=account, document=document, created_by=request.user.username)
    messages.success(request, f"Contract version {version.version} saved.")
    return redirect("billing:contract", account.external_id)


# --- Billing details: the buyer on the account's invoices ----------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def billing_details(request, account: str):
    """The customer admin (or a vendor operator) edits who the account's next invoices are made out to."""
    principal, account = _account(request, account)
    can_edit = principal.can(Perm.BILLING_DETAILS_WRITE)
    errors: dict[str, list[str]] = {}
    values = {
        "billing_name": account.billing_name,
        "billing_address": account.billing_address,
        "billing_country": account.billing_country,
        "tax_id": account.tax_id,
        "billing_emails": "\n".join(account.billing_emails or []),
    }
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        values = {key: request.POST.get(key, "") for key in values}
        emails = [e for e in re.split(r"[\s,;]+", values["billing_emails"]) if e]
        try:
            account_billing_details_update(account=account, **{**values, "billing_emails": emails})
        except BillingDetailsInvalid as exc:
            errors = exc.fields
        else:
            messages.success(request, "Billing details saved. They appear on invoices issued from now on.")
            return redirect("billing:billing_details", account.external_id)
    return _render(
        request, account, "billing/billing_details.html", {"values": values, "errors": errors, "can_edit": can_edit}
    )
