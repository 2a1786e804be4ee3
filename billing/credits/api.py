"""API: an account's prepaid credit balance and its ledger (`GET /api/v1/accounts/{external_id}/credits`)."""

from __future__ import annotations

import secrets
from decimal import Decimal

from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing import api_schema as docs
from billing.credits.models import CreditLedgerEntry
from billing.credits.services import CreditsRefused, LedgerLine, credit_ledger, credit_summary, topup_buy
from metering.api_schema import ErrorBodyDoc
from outcomeportal.api.cursor import cursor_encode, page_request
from outcomeportal.api.errors import ApiError, exactly_one_of
from outcomeportal.core.money import money_str
from outcomeportal.core.numbers import decimal_pattern

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"  # as billing.credits.services' purchase keys
CREDITS_PATTERN = decimal_pattern(whole_digits=11, places=4)
ERRORS = {400: ErrorBodyDoc, 401: ErrorBodyDoc, 403: ErrorBodyDoc, 404: ErrorBodyDoc}


def _c(value: Decimal | None) -> str | None:
    """Credits as a decimal string without trailing zeros ("1000", "12.5")."""
    return None if value is None else f"{value.normalize():f}"


def ledger_line_dict(line: LedgerLine, currency: str) -> dict:
    return {
        "id": line.id,
        "created_at": line.created_at.isoformat().replace("+00:00", "Z"),
        "kind": line.kind,
        "credits": _c(line.credits),
        "amount": None if line.amount is None else money_str(line.amount, line.currency or currency),
        "currency": line.currency or currency,
        "period": line.period,
        "invoice_id": line.invoice_id,
        "dispute_id": line.dispute_id,
        "reference": line.reference,
        "note": line.note,
        "balance_after": _c(line.balance_after),
    }


class AccountCreditsView(APIView):
    permission_classes = [require(Perm.INVOICES_READ)]

    @extend_schema(
        summary="The prepaid credit balance and its ledger, newest line first (keyset pagination)",
        responses={200: docs.AccountCredits},
        parameters=[docs.PageQuery],
    )
    def get(self, request, external_id: str):
        account = account_get_for_principal(principal=principal_of(request), external_id=external_id)
        limit, before = page_request(request.query_params)
        summary = credit_summary(account=account)
        lines = credit_ledger(account=account, before=before, limit=limit + 1)
        page, more = lines[:limit], len(lines) > limit
        return Response(
            {
                "account": account.external_id,
                "currency": account.currency,
                "unit": "credits" if summary.in_credits else "money",
                "credit_price": None if summary.credit_price is None else str(summary.credit_price),
                "balance": _c(summary.balance),
                "balance_value": None
                if summary.credit_price is None
                else money_str(summary.balance * summary.credit_price, account.currency),
                "period": summary.period,
                "period_credits": {
                    "included": _c(summary.included),
                    "rollover": summary.rollover,
                    "used_so_far": _c(summary.used_so_far),
                    "billed": _c(summary.billed),
                    "pending": _c(summary.pending),
                },
                "results": [ledger_line_dict(ln, account.currency) for ln in page],
                "next_cursor": cursor_encode(page[-1].created_at, page[-1].id) if more else None,
            }
        )


def ledger_entry_dict(entry: CreditLedgerEntry) -> dict:
    """One ledger entry as the ledger lists it, with the balance after it."""
    line = credit_ledger(account=entry.account, before=(entry.created_at, entry.pk + 1), limit=1)[0]
    return ledger_line_dict(line, entry.account.currency)


class TopUpIn(serializers.Serializer):
    pack = serializers.RegexField(
        CREDITS_PATTERN, required=False, help_text='A pack on sale, by its credits ("500"). Either pack or credits.'
    )
    credits = serializers.RegexField(
        CREDITS_PATTERN,
        required=False,
        help_text="Any number of credits, at the contract's published conversion (credit_price), no discount.",
    )


class _PackIn(serializers.Serializer):
    pack = TopUpIn().fields["pack"].__class__(CREDITS_PATTERN, help_text=TopUpIn().fields["pack"].help_text)


class _CreditsIn(serializers.Serializer):
    credits = TopUpIn().fields["credits"].__class__(CREDITS_PATTERN, help_text=TopUpIn().fields["credits"].help_text)


# The schema says "exactly one of": a body with both matches both and is refused by oneOf.
TOPUP_DOC = PolymorphicProxySerializer("TopUp", [_PackIn, _CreditsIn], resource_type_field_name=None)


class TopUpsView(APIView):
    permission_classes = [require(Perm.INVOICES_CORRECT)]

    @extend_schema(
        summary="Sell a top-up: credits on the prepaid balance, their price a line of the open invoice",
        request=TOPUP_DOC,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {"type": "string", "pattern": IDEMPOTENCY_PATTERN},
                OpenApiParameter.HEADER,
                description="8–64 of A–Z a–z 0–9 _ -: the same key again sells nothing more (200 with the entry).",
            )
        ],
        responses={201: docs.LedgerLine, 200: docs.LedgerLine, 409: ErrorBodyDoc, **ERRORS},
        description="Give `pack` (one of the packs on sale, by its credits) or `credits` (any amount, priced at "
        "`credit_price`). The credits are usable from the open period on and never expire while the account "
        "is active. 409 `topup_refused`: the contract is not priced in credits, or the pack is not on sale; "
        "`idempotency_key_conflict`: the key bought another amount.",
    )
    def post(self, request, external_id: str):
        principal = principal_of(request)
        data = TopUpIn(data=request.data if isinstance(request.data, dict) else {})
        account = account_get_for_principal(principal=principal, external_id=external_id)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        exactly_one_of(values, "pack", "credits")
        key = request.headers.get(IDEMPOTENCY_HEADER) or secrets.token_urlsafe(18)
        credits = Decimal(values.get("pack") or values["credits"])
        if credits <= 0:
            raise ApiError("validation_error", "Credits must be positive.", status.HTTP_400_BAD_REQUEST,
                           {"pack" if "pack" in values else "credits": ["Credits must be positive."]})  # fmt: skip
        try:
            entry, created = topup_buy(account=account, credits=credits, key=key, bought_by=principal.label,
                                       any_amount="credits" in values)  # fmt: skip
        except CreditsRefused as exc:
            field = "key" if "key" in str(exc) else None
            if field:
                raise ApiError("validation_error", str(exc), status.HTTP_400_BAD_REQUEST,
                               {IDEMPOTENCY_HEADER: [str(exc)]}) from exc  # fmt: skip
            raise ApiError("topup_refused", str(exc), status.HTTP_409_CONFLICT) from exc
        if not created and entry.credits != credits:
            raise ApiError("idempotency_key_conflict", "This key bought another top-up.", status.HTTP_409_CONFLICT)
        return Response(ledger_entry_dict(entry), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
