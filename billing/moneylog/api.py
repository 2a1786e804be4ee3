"""API: verify the money log — `GET /api/v1/ledger/verify` (vendor operators and vendor keys)."""

from __future__ import annotations

import re

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Perm
from accounts.permissions import require
from billing.moneylog.verify import ledger_verify
from metering import api_schema as docs
from outcomeportal.api.errors import ApiError

# An anchor: an entry id (at most 18 digits: a bigint) and its hash, 64 lower-case hex digits.
ANCHOR_PATTERN = re.compile(r"^[0-9]{1,18}:[0-9a-f]{64}\Z")


# What verify_ledger can find wrong (billing.moneylog.verify), as the API names it.
PROBLEM_CODES = [
    "entry_altered",
    "entry_missing",
    "chain_broken",
    "chain_order",
    "anchor_mismatch",
    "anchor_missing",
    "row_unrecorded",
    "row_changed",
    "row_missing",
    "invoice_sum",
    "invoice_charges",
    "invoice_paid",
    "credit_note_overapplied",
    "charge_orphan",
    "charges_unrecorded",
    "invoiced_charges_changed",
    "charge_state_changed",
    "charges_total",
]


class ProblemDoc(serializers.Serializer):
    code = serializers.ChoiceField(PROBLEM_CODES)
    message = serializers.CharField()
    entry_id = serializers.IntegerField(allow_null=True, help_text="The log entry the problem names; null: none.")
    entry_hash = serializers.CharField(allow_null=True)


class HeadDoc(serializers.Serializer):
    id = serializers.IntegerField()
    hash = serializers.CharField(help_text="Keep it elsewhere and pass it back as an anchor later.")


class CheckedDoc(serializers.Serializer):
    invoices = serializers.IntegerField()
    credit_notes = serializers.IntegerField()
    rows = serializers.IntegerField(help_text="Rows the log vouches for, compared one by one.")
    charges = serializers.IntegerField()
    accounts = serializers.IntegerField()


class VerificationDoc(serializers.Serializer):
    ok = serializers.BooleanField(help_text="True when the chain is whole and every money row agrees with it.")
    checked_at = serializers.DateTimeField()
    entries = serializers.IntegerField()
    head = HeadDoc(allow_null=True)
    checked = CheckedDoc()
    first_broken = ProblemDoc(allow_null=True, help_text="The first problem in log order; null when ok.")
    problem_count = serializers.IntegerField()
    problems = ProblemDoc(many=True, help_text="The first 100 problems, in log order.")


_WHOLE = {
    "ok": True,
    "checked_at": "2026-12-07T09:00:00.123456Z",
    "entries": 505,
    "head": {"id": 505, "hash": "8d5ddfad49307dbcc59e2e2c80dfb9e5377bbccd5175e96283ac6d468d743fe1"},
    "checked": {"invoices": 16, "credit_notes": 4, "rows": 75, "charges": 4638, "accounts": 6},
    "first_broken": None,
    "problem_count": 0,
    "problems": [],
}
_BROKEN_PROBLEM = {
    "code": "invoiced_charges_changed",
    "message": "The charges of invoice 4 (317, amount 489.090000, credits 0) are not those entry 377 recorded "
    "(317, amount 489.080000, credits 0).",
    "entry_id": 377,
    "entry_hash": "3f6c0c8e1b0a44b7d0e1ab3e2b25f0c4b5b8f0a3d2d4c6e8f0a1b2c3d4e5f607",
}
_BROKEN = {**_WHOLE, "ok": False, "first_broken": _BROKEN_PROBLEM, "problem_count": 1, "problems": [_BROKEN_PROBLEM]}


class LedgerVerifyView(APIView):
    permission_classes = [require(Perm.LEDGER_VERIFY)]

    @extend_schema(
        summary="Verify the money log: recompute its hash chain and check invoices, charges, credit notes, "
        "credits, caps, contracts and disputes against it",
        description="200 whether whole or not: `ok` says which; `first_broken` names the first broken entry "
        "(its id and hash). Vendor operators and vendor keys only. Takes seconds per million charges.",
        operation_id="ledger_verify",
        parameters=[
            OpenApiParameter(
                "anchor",
                str,
                many=True,
                pattern=ANCHOR_PATTERN.pattern,
                description="ID:HASH of an entry kept outside the database (a head returned earlier): the log "
                "must still hold that entry with that hash. Repeatable.",
            ),
        ],
        responses={200: VerificationDoc, 400: docs.ErrorBodyDoc, 401: docs.ErrorBodyDoc, 403: docs.ErrorBodyDoc},
        examples=[
            OpenApiExample("Whole", value=_WHOLE, response_only=True),
            OpenApiExample("Broken", value=_BROKEN, response_only=True),
        ],
    )
    def get(self, request):
        anchors = []
        for value in request.query_params.getlist("anchor"):
            entry_id, _, digest = value.partition(":")
            if not ANCHOR_PATTERN.match(value):
                raise ApiError(
                    "validation_error", "The query has invalid parameters.", 400,
                    {"anchor": ["ID:HASH, the hash as 64 lower-case hex digits."]},
                )  # fmt: skip
            anchors.append((int(entry_id), digest))
        return Response(ledger_verify(anchors=anchors).as_dict())
