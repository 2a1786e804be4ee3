"""``graduated``: monthly volume bands, each outcome at the price of the band its rank falls in."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.fields import Errors, dec, integer, obj
from billing.pricing.models.base import PerUnitModel, TypeContext
from billing.pricing.terms import Band, TypePrice
from billing.pricing.types import Line, Spec, n, unit_line


def parse_bands(raw: dict, name: str, errors: Errors) -> tuple[Band, ...] | None:
    """The ``bands`` of a graduated or volume price: increasing bounds, the last one open."""
    bands_raw = raw.get("bands")
    if not isinstance(bands_raw, list) or not bands_raw:
        errors.add(f"{name}.bands", 'A list of {"up_to": int|null, "price": "…"}, the last with up_to null.')
        return None
    bands = []
    previous = 0
    for i, band in enumerate(bands_raw):
        bname = f"{name}.bands.{i}"
        if not isinstance(band, dict):
            errors.add(bname, "An object.")
            continue
        obj(band, bname, errors, {"up_to", "price"})
        last = i == len(bands_raw) - 1
        up_to = band.get("up_to")
        if last and up_to is not None:
            errors.add(f"{bname}.up_to", "The last band has no upper bound (null).")
        elif not last:
            up_to = integer(up_to, f"{bname}.up_to", errors, default=None, minimum=previous + 1)
            if up_to is None:
                errors.add(f"{bname}.up_to", "Bounds must increase.")
                continue
            previous = up_to
        bands.append(Band(up_to, dec(band.get("price"), f"{bname}.price", errors, required=True)))
    return tuple(bands)


def bands_words(price: TypePrice, fmt) -> str:
    bands, lower = [], 0
    for band in price.bands:
        span = f"{lower + 1:,}–{band.up_to:,}" if band.up_to else f"{lower + 1:,} and more"
        bands.append(f"{span}: {fmt(band.price)}")
        lower = band.up_to or lower
    return "; ".join(bands)


def _touched(price: TypePrice, qty: int) -> list[tuple[int, int, Decimal]]:
    """(first rank, last rank, price) of each band that ranks 1..qty fall in."""
    out = []
    lower = 0
    for band in price.bands:
        upper = band.up_to if band.up_to is not None else 10**18
        a, b = lower + 1, min(upper, qty)
        if a <= b:
            out.append((a, b, band.price))
        lower = upper
    return out


class Banded(PerUnitModel):
    """What graduated and volume pricing share: monthly bands, ``[{"up_to": int|null, "price"}]``."""

    fields = frozenset({"bands"})
    by_position = True

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice | None:
        bands = parse_bands(raw, name, errors)
        return None if bands is None else TypePrice(code, self.code, bands=bands)

    def to_json(self, price: TypePrice) -> dict:
        return {"bands": [{"up_to": b.up_to, "price": str(b.price)} for b in price.bands]}

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        return price.bands[0].price


class Graduated(Banded):
    code = "graduated"

    def quantity_lines(self, ctx: TypeContext, spec: Spec, label: str, noun: str, qty: int, rank: int,
                       attempts: bool) -> list[Line]:  # fmt: skip
        out = []
        for a, b, unit in _touched(ctx.price, qty):
            text = f"{label} — {noun} {n(a)}–{n(b)} of the month"
            out.append(unit_line(spec, f"band{a}", text, b - a + 1, unit, rank + a, rank + b))
        return out

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> Decimal:
        return max(b.price for b in price.bands)

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        return f"monthly volume tiers, each band at its own price (graduated) — {bands_words(price, fmt)}."


MODEL = Graduated()
