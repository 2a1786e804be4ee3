""" "Your plan": what an account pays and on what terms, in plain words — prices and contract terms only.

What counts as an outcome (the definitions in force and their changelog) and when the customer is
not charged are the What counts page's (``audit:charging_terms``: :func:`billing.audit.charging_terms_for`
and :mod:`billing.forgiveness`); this page names the outcome types and links there, so the two pages
can never tell a definition or a reason twice, or differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from accounts.models import Account
from billing import presenters
from billing.audit.terms import charging_terms_for
from billing.contracts import DEFAULT_PAYMENT_TERMS_DAYS
from billing.invoices.models import ContractVersion
from billing.selectors import contract_for_period
from metering.models import OutcomeType
from outcomeportal.core.money import price_display
from outcomeportal.core.periods import period_at


@dataclass(frozen=True, slots=True)
class PlanPage:
    version: ContractVersion | None  # the contract version in force this period; None: catalogue prices
    prices: list[str]  # the plan's sentences: prices, fees, included outcomes, credits, term…
    payment_terms_days: int  # net N: an invoice is due N days after it is issued
    outcome_types: list[OutcomeType]  # those What counts defines, in its order


def plan_page(*, account: Account, now: datetime | None = None) -> PlanPage:
    """The contract in force for ``now``'s period, in words; without one, each type at its catalogue price."""
    now = now or timezone.now()
    version, terms = contract_for_period(account_id=account.pk, period=period_at(now, account.timezone))
    types = [t.outcome_type for t in charging_terms_for(account=account)]  # What counts' list, in its order
    if terms is not None:
        prices = presenters.plan_sentences(account=account, terms=terms)
    else:
        prices = [f"{t.name}: {price_display(t.unit_price, account.currency)} per outcome." for t in types]
    days = terms.payment_terms_days if terms is not None else DEFAULT_PAYMENT_TERMS_DAYS
    return PlanPage(version=version, prices=prices, payment_terms_days=days, outcome_types=types)
