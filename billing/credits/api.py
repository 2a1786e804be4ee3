"""API: an account's prepaid credit balance and its ledger (`GET /api/v1/accounts/{external_id}/credits`)."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import principal_of, require
from accounts.selectors import account_get_for_principal
from billing import api_schema as docs
from billing.credits.services import LedgerLine, credit_ledger, credit_summary
from outcomeportal.api.cursor import cursor_encode, page_request
from outcomeportal.core.money import money_str


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
