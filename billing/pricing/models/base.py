"""What every pricing model answers, and the outcome lines the per-unit models share.

A model is one module (``billing/pricing/models/<code>.py``) with one :class:`PriceModel`, listed
in the registry (``models/__init__.py``): it validates its fields of a contract's price, writes
them back, prices a type's outcomes of a period as invoice lines, bounds what one more outcome can
add (the cap admits batches on that), estimates an outcome at ingestion, and says itself in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from billing.pricing.fields import Errors
from billing.pricing.terms import COMPLEXITIES, PlatformFee, Terms, TypePrice
from billing.pricing.types import Alloc, Group, Line, Spec, n
from outcomeportal.core.money import ZERO


@dataclass
class Allowance:
    """Outcomes a platform fee still includes this period: shared by the types in contract order."""

    left: int = 0


@dataclass
class TypeContext:
    """One outcome type's outcomes of a period, and what its lines need to know."""

    price: TypePrice
    code: str
    name: str
    groups: list[Group]
    segment: str  # the period whose outcomes these are
    currency: str
    terms: Terms | None
    credit_price: Decimal | None  # set when this type is priced in credits
    platform_fee: PlatformFee | None
    allowance: Allowance = field(default_factory=Allowance)


class PriceModel:
    code = ""
    fields: frozenset[str] = frozenset()  # its fields of a price, besides outcome_type and model
    money_only = False  # never priced in credits
    per_event_share = False  # each outcome adds its own amount, stored with it (gain-share)
    tiered = False  # outcomes are priced by their complexity tier
    by_position = False  # an outcome's price depends on its rank in the month (bands)

    def parse(self, raw: dict, name: str, errors: Errors, code: str) -> TypePrice | None:
        raise NotImplementedError

    def to_json(self, price: TypePrice) -> dict:
        raise NotImplementedError

    def counts_attempts(self, terms: Terms | None) -> bool:
        """Are attempts that did not resolve charged too? Per conversation, yes."""
        return terms is not None and terms.basis == "per_conversation"

    def effective_tier(self, price: TypePrice, tier: str) -> str | None:
        return None

    def lines(self, ctx: TypeContext) -> list[Line]:
        raise NotImplementedError

    def estimate(self, price: TypePrice, *, complexity: str, value_amount: Decimal | None) -> Decimal:
        """One resolved outcome's price (credits when the contract is in credits and the model is not
        money-only), provisional: the invoice prices the month's quantities."""
        raise NotImplementedError

    def bound(self, price: TypePrice, *, tier: str, attempt: bool, amount: Decimal | None) -> Decimal | None:
        """At most what one more outcome adds to the period's charges; None: no bound."""
        raise NotImplementedError

    def words(self, price: TypePrice, *, fmt, currency: str, per: str) -> str:
        """The price in a sentence's words (``fmt`` writes an amount in the contract's unit; ``per`` is
        "outcome" or "conversation")."""
        raise NotImplementedError


class PerUnitModel(PriceModel):
    """Models that charge each outcome (or conversation) a unit price: a platform fee's included
    outcomes come first, in contract order, then the model's own quantity lines."""

    def quantity_lines(self, ctx: TypeContext, spec: Spec, label: str, noun: str, qty: int, rank: int,
                       attempts: bool) -> list[Line]:  # fmt: skip
        raise NotImplementedError

    def lines(self, ctx: TypeContext) -> list[Line]:
        attempts = self.counts_attempts(ctx.terms)
        classes = "RA" if attempts else "R"
        noun = "conversations" if attempts else "outcomes"
        per_tier: dict[str | None, int] = {}
        for g in ctx.groups:
            tier = self.effective_tier(ctx.price, g.tier)
            per_tier[tier] = per_tier.get(tier, 0) + g.resolved + (g.unresolved if attempts else 0)
        key = f"{ctx.segment}:{ctx.code}"
        pf = ctx.platform_fee
        out: list[Line] = []
        for tier in [t for t in (*COMPLEXITIES, None) if per_tier.get(t)]:
            qty = per_tier[tier]
            tkey = f"{key}:{tier or 'all'}"
            label = f"{ctx.name} ({tier})" if tier else ctx.name
            rank = 0
            covered = pf is not None and (not pf.included_types or ctx.code in pf.included_types)
            if ctx.allowance.left and covered:
                inc = min(qty, ctx.allowance.left)
                ctx.allowance.left -= inc
                out.append(included_line(ctx, tkey, label, tier, classes, inc))
                rank, qty = inc, qty - inc
                label = f"{label} — beyond the {n(pf.included_outcomes)} included"
            if not qty:
                continue
            spec = Spec(tkey, ctx.code, tier, classes, ctx.segment, ctx.currency, ctx.credit_price)
            out += self.quantity_lines(ctx, spec, label, noun, qty, rank, attempts)
        return out


def included_line(ctx: TypeContext, key: str, label: str, tier: str | None, classes: str, inc: int) -> Line:
    alloc = Alloc(ctx.segment, ctx.code, tier, classes, 1, inc, event_amount=ZERO)
    text = f"{label} — included in {ctx.platform_fee.name}"
    return Line(f"{key}:included", "included", text, ZERO, Decimal(inc), ZERO, ctx.code, alloc=alloc)
