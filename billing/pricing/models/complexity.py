"""``complexity``: simple, moderate and complex outcomes at three prices; the tier rule is the
event's reported complexity (or the contract's default tier when it reports none)."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.fields import Errors, dec
from billing.pricing.models.base import PerUnitModel, TypeContext
from billing.pricing.terms import COMPLEXITIES, TypePrice
from billing.pricing.types import Line, Spec, unit_line


class Complexity(PerUnitModel):
    code = "complexity"
    fields = frozenset({"tiers", "default_tier"})
    tiered = True

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice | None:
        tiers_raw = raw.get("tiers")
        if not isinstance(tiers_raw, dict) or set(tiers_raw) != set(COMPLEXITIES):
            errors.add(f"{name}.tiers", 'An object with "simple", "moderate" and "complex" prices.')
            return None
        tiers = tuple((c, dec(tiers_raw[c], f"{name}.tiers.{c}", errors, required=True)) for c in COMPLEXITIES)
        default_tier = raw.get("default_tier", "simple")
        if default_tier not in COMPLEXITIES:
            errors.add(f"{name}.default_tier", f"One of {', '.join(COMPLEXITIES)}.")
        return TypePrice(code, self.code, tiers=tiers, default_tier=default_tier)

    def to_json(self, price: TypePrice) -> dict:
        return {"tiers": {c: str(v) for c, v in price.tiers}, "default_tier": price.default_tier}

    def effective_tier(self, price: TypePrice, tier: str) -> str:
        return tier if tier in COMPLEXITIES else price.default_tier

    def quantity_lines(self, ctx: TypeContext, spec: Spec, label: str, noun: str, qty: int, rank: int,
                       attempts: bool) -> list[Line]:  # fmt: skip
        text = label + (" — per conversation" if attempts else "")
        return [unit_line(spec, "unit", text, qty, ctx.price.tier_price(spec.tier), rank + 1, rank + qty)]

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        return price.tier_price(complexity if complexity in COMPLEXITIES else "")

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> Decimal:
        return max(p for _, p in price.tiers)

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        tiers = ", ".join(f"{tier} {fmt(v)}" for tier, v in price.tiers)
        return f"priced by complexity — {tiers} (an event that reports none counts as {price.default_tier})."


MODEL = Complexity()
