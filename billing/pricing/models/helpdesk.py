"""``helpdesk``: a ticket fee on every ticket, resolved or not, plus an automation fee when the AI
fully resolves it. Priced in money, never in credits."""

from __future__ import annotations

from decimal import Decimal

from billing.pricing.fields import Errors, dec
from billing.pricing.models.base import PriceModel, TypeContext
from billing.pricing.terms import Terms, TypePrice
from billing.pricing.types import Alloc, Line
from outcomeportal.core.money import price_display, round_event, round_line


class Helpdesk(PriceModel):
    code = "helpdesk"
    fields = frozenset({"item_fee", "automation_fee"})
    money_only = True

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice:
        return TypePrice(
            code,
            self.code,
            item_fee=dec(raw.get("item_fee"), f"{name}.item_fee", errors, required=True),
            automation_fee=dec(raw.get("automation_fee"), f"{name}.automation_fee", errors, required=True),
        )

    def to_json(self, price: TypePrice) -> dict:
        return {"item_fee": str(price.item_fee), "automation_fee": str(price.automation_fee)}

    def counts_attempts(self, terms: Terms | None) -> bool:
        return True  # every ticket pays its fee

    def lines(self, ctx: TypeContext) -> list[Line]:
        price, code, segment, key = ctx.price, ctx.code, ctx.segment, f"{ctx.segment}:{ctx.code}"
        resolved = sum(g.resolved for g in ctx.groups)
        tickets = resolved + sum(g.unresolved for g in ctx.groups)
        out = []
        if tickets:
            out.append(
                Line(f"{key}:ticket", "outcome", f"{ctx.name} — ticket fee, every ticket",
                     round_line(price.item_fee * tickets, ctx.currency), Decimal(tickets), price.item_fee, code,
                     alloc=Alloc(segment, code, None, "A", event_amount=round_event(price.item_fee), show="RA"))
            )  # fmt: skip
        if resolved:
            out.append(
                Line(f"{key}:automation", "outcome", f"{ctx.name} — automation fee, resolved by the AI",
                     round_line(price.automation_fee * resolved, ctx.currency), Decimal(resolved),
                     price.automation_fee, code,
                     alloc=Alloc(segment, code, None, "R",
                                 event_amount=round_event(price.item_fee + price.automation_fee)))
            )  # fmt: skip
        return out

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        return price.item_fee + price.automation_fee

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> Decimal:
        return price.item_fee if attempt else price.item_fee + price.automation_fee

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        return (
            f"a ticket fee of {price_display(price.item_fee, currency)} on every ticket, plus an automation fee of "
            f"{price_display(price.automation_fee, currency)} only when the AI fully resolves it."
        )


MODEL = Helpdesk()
