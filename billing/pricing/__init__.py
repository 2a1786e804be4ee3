"""Pricing: what an account's outcomes cost under its contract. Pure — no Django, no database.

* :mod:`billing.pricing.terms` — the contract's terms as frozen dataclasses;
* :mod:`billing.pricing.models` — one module per pricing model (unit, complexity, graduated,
  volume, helpdesk, gain-share): validate, price, bound, describe;
* :mod:`billing.pricing.period` — :func:`price_period`: a period's invoice lines;
* :mod:`billing.pricing.estimates` — one outcome: its provisional price, its bound for the cap;
* :mod:`billing.pricing.types` and :mod:`billing.pricing.fields` — the dataclasses and the
  document's field readers they share.
"""

from billing.pricing.estimates import attempt_estimate, marginal_bound, unit_estimate
from billing.pricing.period import Posting, credit_postings, price_period
from billing.pricing.types import (
    EVENT_KINDS,
    FIXED_KINDS,
    Alloc,
    Attainment,
    Carry,
    CreditNoteIn,
    CreditUse,
    Group,
    LateBatch,
    Line,
    PeriodInput,
    PrepaidIn,
    PricedInvoice,
)

__all__ = [
    "EVENT_KINDS",
    "FIXED_KINDS",
    "Alloc",
    "Attainment",
    "Carry",
    "CreditNoteIn",
    "CreditUse",
    "Group",
    "LateBatch",
    "Line",
    "PeriodInput",
    "Posting",
    "PrepaidIn",
    "PricedInvoice",
    "attempt_estimate",
    "credit_postings",
    "marginal_bound",
    "price_period",
    "unit_estimate",
]
