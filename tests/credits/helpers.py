"""Builders for credit tests: a credit contract, two outcome types, months of settled outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from billing.credits.models import CreditLedgerEntry
from billing.credits.services import credit_balance
from tests import factories
from tests.billing.helpers import contract

RES, LEAD = "resolved_conversation", "qualified_lead"


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def outcome_types() -> None:
    factories.make_outcome_type(RES)
    factories.make_outcome_type(LEAD, unit_price="5.00")


def credit_contract(account, *, rollover: bool = True):
    """50 credits per resolution, 100 per lead, $0.02 a credit, 1,000 credits included for $20.00."""
    return contract(
        account,
        unit="credits",
        credit_price="0.02",
        prices=[
            {"outcome_type": RES, "model": "unit", "price": "50"},
            {"outcome_type": LEAD, "model": "unit", "price": "100"},
        ],
        platform_fee={"name": "Growth plan", "amount": "20.00", "included_credits": "1000", "rollover": rollover},
    )


def ledger(account) -> list[tuple[str, str, Decimal]]:
    """(period, kind, credits) oldest first."""
    return list(
        CreditLedgerEntry.objects.filter(account=account)
        .order_by("created_at", "id")
        .values_list("period", "kind", "credits")
    )


def balance(account) -> Decimal:
    return credit_balance(account=account)
