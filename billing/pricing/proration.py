"""A contract change that takes effect inside a month, immediately: the month's fees prorated by days.

By default a new contract version takes effect from the next whole period
(:func:`billing.pricing.terms.version_for_period`). A change made "immediately, prorated" is written
as two versions (billing.contract_changes): from the next period the new terms as they are, and for
the month of the change the terms :func:`prorated_terms` returns — the new terms, whose platform fee
is the old fee for the days before the change plus the new fee for the days from it, and whose
included outcomes (or credits) are prorated the same way. That month's outcomes are priced under the
new terms (one contract prices a month: allowances and bands count the whole month).

Rounding: each share's fee is rounded to the currency's minor unit (half up) and the version's fee is
their sum, so the invoice's two lines add up to it; included outcomes are rounded half up on the
total, the earlier share half up on its own, and the later share is the rest.
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from billing.pricing.terms import FeeShare, PlatformFee, Proration, Terms
from outcomeportal.core.money import ZERO, round_line

_CREDITS = Decimal("0.0001")


class ProrationRefused(ValueError):
    """The change cannot take effect inside the month (the message says why)."""


def _share(fee: PlatformFee | None, days: int, month_days: int, currency: str) -> FeeShare:
    if fee is None:
        return FeeShare(name="Platform fee", days=days, amount=ZERO)
    return FeeShare(name=fee.name, days=days, amount=round_line(fee.amount * days / month_days, currency))


def _split(before: int | Decimal, after: int | Decimal, days: tuple[int, int], month_days: int, quantum) -> tuple:
    """Allowances prorated: the total rounded half up, the earlier share rounded, the later the rest."""
    exact_before = Decimal(before) * days[0] / month_days
    total = (exact_before + Decimal(after) * days[1] / month_days).quantize(quantum, rounding=ROUND_HALF_UP)
    first = min(exact_before.quantize(quantum, rounding=ROUND_HALF_UP), total)
    return first, total - first


def prorated_terms(previous: Terms, new: Terms, *, changed_on: date, currency: str) -> Terms:
    """The terms that govern the month of ``changed_on``: ``new``'s, from the month's first day, with
    the platform fee and its allowance prorated by days between ``previous`` and ``new``."""
    first = changed_on.replace(day=1)
    if changed_on == first:
        raise ProrationRefused("A change on a month's first day governs that whole month: nothing to prorate.")
    if previous.unit != new.unit:
        raise ProrationRefused("A change between money and credits takes effect from the next period.")
    month_days = calendar.monthrange(changed_on.year, changed_on.month)[1]
    days = ((changed_on - first).days, month_days - (changed_on - first).days)
    old, fee = previous.platform_fee, new.platform_fee
    before = _share(old, days[0], month_days, currency)
    after = _share(fee, days[1], month_days, currency)
    if new.in_credits:
        credits = _split(old.included_credits if old else 0, fee.included_credits if fee else 0, days, month_days,
                         _CREDITS)  # fmt: skip
        before, after = replace(before, included_credits=credits[0]), replace(after, included_credits=credits[1])
    else:
        outcomes = _split(old.included_outcomes if old else 0, fee.included_outcomes if fee else 0, days, month_days,
                          Decimal(1))  # fmt: skip
        before = replace(before, included_outcomes=int(outcomes[0]))
        after = replace(after, included_outcomes=int(outcomes[1]))
    template = fee or old or PlatformFee(amount=ZERO)
    prorated_fee = replace(
        template,
        amount=before.amount + after.amount,
        included_outcomes=before.included_outcomes + after.included_outcomes,
        included_credits=before.included_credits + after.included_credits,
    )
    keep_fee = bool(prorated_fee.amount or prorated_fee.included_outcomes or prorated_fee.included_credits)
    return replace(
        new,
        effective_from=first,
        platform_fee=prorated_fee if keep_fee else None,
        proration=Proration(changed_on=changed_on, days_in_period=month_days, before=before, after=after),
    )
