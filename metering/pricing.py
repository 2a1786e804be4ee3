"""The pricing seam: what a billable outcome costs the customer.

Metering asks one question — "what is each of these outcomes worth?" — through the
function registered here. Until billing registers its contract-aware pricer (at
start-up, in ``billing.apps``), the answer is the outcome type's default unit price.
Amounts are Decimal with up to 6 decimal places; rounding to the currency's minor
unit happens once, per invoice line (see outcomeportal.core.money).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

# Named tuples, not dataclasses: ingestion builds one request and one price per candidate
# outcome, up to 1,000 per request, and a frozen dataclass costs several times more to build.


class PriceRequest(NamedTuple):
    account_id: int
    outcome_type_id: int
    outcome_type_code: str  # contracts name outcome types by code
    default_unit_price: Decimal
    occurred_at: datetime
    complexity: str = ""
    value_amount: Decimal | None = None


class Price(NamedTuple):
    amount: Decimal | None  # money, in the account's currency
    credits: Decimal | None = None  # when the contract prices in credits


Pricer = Callable[[Sequence[PriceRequest]], list[Price]]


def default_pricer(requests: Sequence[PriceRequest]) -> list[Price]:
    return [Price(amount=r.default_unit_price) for r in requests]


_pricer: Pricer = default_pricer


def pricer_register(pricer: Pricer) -> None:
    """Billing plugs its contract pricing in here (one pricer; the last registration wins)."""
    global _pricer
    _pricer = pricer


def prices_for(requests: Sequence[PriceRequest]) -> list[Price]:
    return _pricer(requests) if requests else []
