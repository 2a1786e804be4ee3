"""``gain_share``: a percentage of the value each outcome creates above a baseline. Each outcome's
share is its own amount (6 places); the line is their sum, rounded once. Money only."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.fields import Errors, dec
from billing.pricing.models.base import PriceModel, TypeContext
from billing.pricing.terms import Terms, TypePrice
from billing.pricing.types import Alloc, Line, price_text
from outcomeportal.core.money import ZERO, price_display, round_line


class GainShare(PriceModel):
    code = "gain_share"
    fields = frozenset({"percent", "baseline"})
    money_only = True
    per_event_share = True

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice:
        percent = dec(raw.get("percent"), f"{name}.percent", errors, required=True, places=4)
        if percent is not None and percent > 100:
            errors.add(f"{name}.percent", "At most 100.")
        baseline = dec(raw.get("baseline", "0"), f"{name}.baseline", errors) or Decimal(0)
        return TypePrice(code, self.code, percent=percent, baseline=baseline)

    def to_json(self, price: TypePrice) -> dict:
        return {"percent": str(price.percent), "baseline": str(price.baseline)}

    def counts_attempts(self, terms: Terms | None) -> bool:
        return False  # an attempt created no value

    def lines(self, ctx: TypeContext) -> list[Line]:
        price = ctx.price
        resolved = sum(g.resolved for g in ctx.groups)
        if not resolved:
            return []
        gain = sum((g.gain for g in ctx.groups), ZERO)
        return [
            Line(f"{ctx.segment}:{ctx.code}:gain_share", "outcome",
                 f"{ctx.name} — {price.percent.normalize():f} % of value above "
                 f"{price_text(price.baseline, ctx.currency, False)} per outcome",
                 round_line(gain, ctx.currency), Decimal(resolved), None, ctx.code,
                 alloc=Alloc(ctx.segment, ctx.code, None, "R", gain_share=(price.percent, price.baseline)))
        ]  # fmt: skip

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        return price.percent / 100 * max((value_amount or ZERO) - price.baseline, ZERO)

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> Decimal:
        return ZERO if attempt else (amount or ZERO)

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        return (
            f"{price.percent.normalize():f} % of the value each outcome creates above "
            f"{price_display(price.baseline, currency)} (gain-share)."
        )


MODEL = GainShare()
