"""API: contracts, invoices, their lines' events, credit notes (`/api/v1/…`)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm, Principal
from accounts.models import Account
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing import api_schema as docs
from billing import presenters
from billing.contracts import TermsInvalid
from billing.invoices.models import Invoice
from billing.selectors import (
    contract_for_period,
    contract_term_latest,
    contract_versions,
    credit_note_event_ids,
    credit_notes_for_principal,
    invoice_get_for_principal,
    invoice_line_get,
    invoice_list,
    line_events,
)
from billing.services import contract_version_create, invoice_draft_current
from outcomeportal.api.cursor import cursor_encode, page_request
from outcomeportal.api.errors import ApiError
from outcomeportal.core.periods import period_at, period_parse

CONTRACT_EXAMPLE = {
    "effective_from": "2026-06-01",
    "unit": "money",
    "basis": "per_resolution",
    "prices": [
        {"outcome_type": "resolved_conversation", "model": "unit", "price": "0.75"},
        {
            "outcome_type": "qualified_lead",
            "model": "complexity",
            "tiers": {"simple": "0.50", "moderate": "1.50", "complex": "3.00"},
            "default_tier": "simple",
        },
    ],
    "platform_fee": {"name": "Platform fee", "amount": "1500.00", "included_outcomes": 1000},
    "onboarding": {"training_days": 30, "pilot_free_outcomes": 100, "implementation_fee": "2500.00"},
    "price_lock": {"days": 90, "previous_plan_cost": "2000.00"},
    "guarantee": {"outcome_type": "resolved_conversation", "min_attainment": "0.85", "credit_percent_per_point": "5"},
}
CREDITS_EXAMPLE = {
    "effective_from": "2026-06-01",
    "unit": "credits",
    "credit_price": "0.02",
    "prices": [
        {"outcome_type": "resolved_conversation", "model": "unit", "price": "50"},
        {"outcome_type": "qualified_lead", "model": "unit", "price": "100"},
    ],
    "platform_fee": {"name": "Growth plan", "amount": "20.00", "included_credits": "1000", "rollover": True},
}


def contract_body(account, version, terms, *, versions) -> dict:
    term = contract_term_latest(account_id=account.pk, versions=versions)  # the plan's sentence and the term
    return {
        "account": account.external_id,
        "currency": account.currency,
        "version": version.version if version else None,
        "effective_from": version.effective_from.isoformat() if version else None,
        "created_at": version.created_at.isoformat().replace("+00:00", "Z") if version else None,
        "terms": version.terms if version else None,
        "plan": presenters.plan_sentences(account=account, terms=terms, term=term) if terms else [],
        "term": presenters.account_term_json(account, term),
        "versions": [
            {
                "version": v.version,
                "effective_from": v.effective_from.isoformat(),
                "created_at": v.created_at.isoformat().replace("+00:00", "Z"),
                "created_by": v.created_by,
            }
            for v in versions
        ],
    }


class ContractView(APIView):
    """GET: the contract governing the current period (and every version); PUT: a new version."""

    def get_permissions(self):
        perm = Perm.CATALOGUE_MANAGE if self.request.method == "PUT" else Perm.INVOICES_READ
        return [require(perm)()]

    @extend_schema(
        summary="The account's contract: the version governing the current period, and all versions",
        responses={200: docs.Contract},
        parameters=[docs.PeriodQuery],
    )
    def get(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        period = request.query_params.get("period", period_at(timezone.now(), account.timezone))
        if period_parse(period) is None:
            raise ApiError("validation_error", "The query has invalid parameters.", 400, {"period": ["YYYY-MM."]})
        versions = contract_versions(account=account)
        version, terms = contract_for_period(account_id=account.pk, period=period, versions=versions)
        if version is None and versions:
            version = versions[0]  # a contract that starts later: show it
            _, terms = contract_for_period(account_id=account.pk, period=version.terms["effective_from"][:7])
        return Response(contract_body(account, version, terms, versions=versions))

    @extend_schema(
        summary="Create or replace the account's contract (a new version from effective_from)",
        request=docs.ContractDocument,
        responses={201: docs.Contract},
        examples=[
            OpenApiExample("Fee, tiers, onboarding, price lock, guarantee", value=CONTRACT_EXAMPLE, request_only=True),
            OpenApiExample("Credits bundle with rollover", value=CREDITS_EXAMPLE, request_only=True),
        ],
    )
    def put(self, request, external_id: str):
        principal = principal_of(request)
        account = account_get_for_principal(principal=principal, external_id=external_id)
        try:
            version = contract_version_create(account=account, document=request.data, created_by=principal.label)
        except TermsInvalid as exc:
            raise ApiError("validation_error", "The contract has invalid fields.", 400, exc.fields) from exc
        versions = contract_versions(account=account)
        _, terms = contract_for_period(account_id=account.pk, period=version.terms["effective_from"][:7])
        return Response(contract_body(account, version, terms, versions=versions), status=status.HTTP_201_CREATED)


InvoiceOut = docs.Invoice  # (billing.receivables.api answers with the invoice too)


def _line_events_url(invoice: Invoice, line) -> str | None:
    if not line.alloc:
        return None
    return reverse("api:invoice-line-events", args=[invoice.pk, line.pk])


def invoice_body(invoice: Invoice) -> dict:
    return presenters.invoice_dict(invoice, events_url=_line_events_url)


class InvoiceListView(APIView):
    permission_classes = [require(Perm.INVOICES_READ)]

    @extend_schema(
        summary="Invoices, newest period first; the current period's draft is the upcoming invoice",
        operation_id="invoices_list",
        parameters=[docs.InvoicesQuery],
        responses={200: docs.InvoiceList},
    )
    def get(self, request):
        principal = principal_of(request)
        query = request.query_params
        account = None
        if "account" in query:
            account = account_get_for_principal(principal=principal, external_id=query["account"])
        period = query.get("period")
        if period is not None and period_parse(period) is None:
            raise ApiError("validation_error", "The query has invalid parameters.", 400, {"period": ["YYYY-MM."]})
        target = account or _own_account(principal)
        if target is not None:
            invoice_draft_current(account=target)
        rows = invoice_list(principal=principal, account=account, period=period)
        return Response({"results": [invoice_body(i) for i in rows]})


def _own_account(principal: Principal):
    if principal.is_vendor:
        return None
    return Account.objects.filter(pk=principal.account_id).first()


class InvoiceDetailView(APIView):
    permission_classes = [require(Perm.INVOICES_READ)]

    @extend_schema(summary="One invoice with its lines", responses={200: docs.Invoice})
    def get(self, request, invoice_id: int):
        invoice = invoice_get_for_principal(principal=principal_of(request), invoice_id=invoice_id)
        invoice = invoice_draft_current(account=invoice.account, invoice=invoice)
        return Response(invoice_body(invoice))


class InvoiceLineEventsView(APIView):
    permission_classes = [require(Perm.INVOICES_READ)]

    @extend_schema(
        summary="The events behind an invoice line, newest first (keyset pagination, like /events)",
        responses={200: docs.LineEventPage},
        parameters=[docs.PageQuery],
    )
    def get(self, request, invoice_id: int, line_id: int):
        principal = principal_of(request)
        invoice = invoice_get_for_principal(principal=principal, invoice_id=invoice_id)
        line = invoice_line_get(invoice=invoice, line_id=line_id)
        limit, before = page_request(request.query_params)
        events = line_events(invoice=invoice, line=line, before=before, limit=limit + 1)
        page, more = events[:limit], len(events) > limit
        return Response(
            {
                "invoice_id": invoice.pk,
                "line_id": line.pk,
                "results": [
                    presenters.line_event_row(e, invoice=invoice, line=line, principal=principal) for e in page
                ],
                "next_cursor": cursor_encode(page[-1].occurred_at, page[-1].pk) if more else None,
            }
        )


class CreditNoteListView(APIView):
    permission_classes = [require(Perm.INVOICES_READ)]

    @extend_schema(
        summary="Credit notes (corrections), applied to the next invoice as a credit line",
        responses={200: docs.CreditNoteList},
        parameters=[docs.AccountQuery],
    )
    def get(self, request):
        principal = principal_of(request)
        qs = credit_notes_for_principal(principal=principal)
        if "account" in request.query_params:
            account = account_get_for_principal(principal=principal, external_id=request.query_params["account"])
            qs = qs.filter(account=account)
        notes = list(qs.order_by("-number")[:1000])
        event_ids = credit_note_event_ids(notes=notes)
        return Response({"results": [presenters.credit_note_dict(n, event_ids=event_ids[n.pk]) for n in notes]})
