"""``unit``: one price per outcome (or per conversation)."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.fields import Errors, dec
from billing.pricing.models.base import PerUnitModel, TypeContext
from billing.pricing.terms import TypePrice
from billing.pricing.types import Line, Spec, unit_line


class Unit(PerUnitModel):
    code = "unit"
    fields = frozenset({"price"})

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice:
        return TypePrice(code, self.code, price=dec(raw.get("price"), f"{name}.price", errors, required=True))

    def to_json(self, price: TypePrice) -> dict:
        return {"price": str(price.price)}

    def quantity_lines(self, ctx: TypeContext, spec: Spec, label: str, noun: str, qty: int, rank: int,
                       attempts: bool) -> list[Line]:  # fmt: skip
        text = label + (" — per conversation" if attempts else "")
        return [unit_line(spec, "unit", text, qty, ctx.price.price, rank + 1, rank + qty)]

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        return price.price

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> Decimal:
        return price.price

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        return f"{fmt(price.price)} per {per}."


MODEL = Unit()
