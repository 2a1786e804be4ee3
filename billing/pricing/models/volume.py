"""``volume``: every outcome of the month at the price of the band the month's total falls in."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.fields import Errors
from billing.pricing.models.base import PerUnitModel, TypeContext
from billing.pricing.models.graduated import bands_words, parse_bands
from billing.pricing.terms import TypePrice
from billing.pricing.types import Line, Spec, n, unit_line


def volume_price(price: TypePrice, qty: int) -> Decimal:
    for band in price.bands:
        if band.up_to is None or qty <= band.up_to:
            return band.price
    return price.bands[-1].price


class Volume(PerUnitModel):
    code = "volume"
    fields = frozenset({"bands"})

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice | None:
        bands = parse_bands(raw, name, errors)
        return None if bands is None else TypePrice(code, self.code, bands=bands)

    def to_json(self, price: TypePrice) -> dict:
        return {"bands": [{"up_to": b.up_to, "price": str(b.price)} for b in price.bands]}

    def quantity_lines(self, ctx: TypeContext, spec: Spec, label: str, noun: str, qty: int, rank: int,
                       attempts: bool) -> list[Line]:  # fmt: skip
        return [unit_line(spec, "volume", f"{label} — volume price for {n(qty)} {noun}", qty,
                          volume_price(ctx.price, qty), rank + 1, rank + qty)]  # fmt: skip

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        return price.bands[0].price

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> None:
        return None  # one more outcome reprices every outcome of the month

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        return (
            "monthly volume tiers, the whole month at the price of the band its total falls in (volume) — "
            f"{bands_words(price, fmt)}."
        )


MODEL = Volume()
