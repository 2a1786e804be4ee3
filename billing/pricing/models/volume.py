"""``volume``: every outcome of the month at the price of the band the month's total falls in."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.models.base import TypeContext
from billing.pricing.models.graduated import Banded, bands_words
from billing.pricing.terms import TypePrice
from billing.pricing.types import Line, Spec, n, unit_line


def volume_price(price: TypePrice, qty: int) -> Decimal:
    for band in price.bands:
        if band.up_to is None or qty <= band.up_to:
            return band.price
    return price.bands[-1].price


class Volume(Banded):
    code = "volume"

    def quantity_lines(self, ctx: TypeContext, spec: Spec, label: str, noun: str, qty: int, rank: int,
                       attempts: bool) -> list[Line]:  # fmt: skip
        return [unit_line(spec, "volume", f"{label} — volume price for {n(qty)} {noun}", qty,
                          volume_price(ctx.price, qty), rank + 1, rank + qty)]  # fmt: skip

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> None:
        return None  # one more outcome reprices every outcome of the month

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        return (
            "monthly volume tiers, the whole month at the price of the band its total falls in (volume) — "
            f"{bands_words(price, fmt)}."
        )


MODEL = Volume()
