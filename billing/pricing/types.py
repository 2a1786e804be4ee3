"""The small frozen dataclasses pricing reads and writes, and the helpers that make lines. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from billing.pricing.terms import Terms
from outcomeportal.core.money import ZERO, price_display, round_event, round_line

# Line kinds. Outcome-dependent kinds change with the events; the fixed ones do not.
FIXED_KINDS = frozenset({"platform_fee", "implementation_fee", "commitment_prepaid", "topup", "credit_note"})
EVENT_KINDS = frozenset({"outcome", "included", "late"})


@dataclass(frozen=True, slots=True)
class Group:
    """The decided events of one outcome type and reported complexity in a period."""

    outcome_type: str
    tier: str = ""  # the complexity the events reported ("" for none)
    resolved: int = 0  # decided billable: the outcome happened
    unresolved: int = 0  # attempts that did not resolve (contracts.ATTEMPT_REASONS)
    # Gain-share types: Σ over resolved events of each event's share, percent × max(value − baseline, 0),
    # rounded to 6 places per event — what each event is stamped with, so a line is the sum of its events.
    gain: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Carry:
    """What one period hands to the next."""

    credits: Decimal = ZERO  # unused included (plan) credits rolled over
    committed_spend: Decimal = ZERO  # outcome charges counted against the commitment so far in its term
    # Prepaid credits left (top-ups, dispute credits, adjustments): used after the plan's credits,
    # never expire. The credit ledger's balance after a period is credits + purchased.
    purchased: Decimal = ZERO

    def as_dict(self) -> dict:
        return {
            "credits": str(self.credits),
            "committed_spend": str(self.committed_spend),
            "purchased": str(self.purchased),
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> Carry:
        data = data or {}
        return cls(
            Decimal(data.get("credits", "0")),
            Decimal(data.get("committed_spend", "0")),
            Decimal(data.get("purchased", "0")),
        )


@dataclass(frozen=True, slots=True)
class PrepaidIn:
    """A credit-ledger entry that adds to (or, for an adjustment, takes from) the prepaid balance
    in this period: a top-up (with the price paid, billed on this invoice), a dispute credit, an
    adjustment."""

    ref: int  # the ledger entry's id
    kind: str  # "topup", "dispute_credit", "adjustment"
    credits: Decimal  # signed
    amount: Decimal | None = None  # top-ups: the pack's price, already rounded to the currency
    description: str = ""


@dataclass(frozen=True, slots=True)
class CreditUse:
    """A period's credits, as the ledger posts them when the invoice is final.

    Consumption order: the plan's credits (rolled over + included), then prepaid credits, then
    overage billed in money. The period's own outcomes draw first, late outcomes of earlier
    periods after them.
    """

    rolled_in: Decimal  # plan credits carried in
    granted: Decimal  # plan credits included this period
    purchased_in: Decimal  # prepaid credits carried in
    added: Decimal  # prepaid credits added in the period (top-ups, dispute credits, adjustments)
    used: Decimal  # credits used by the period's own outcomes
    used_late: Decimal  # credits used by late outcomes of earlier periods billed now
    from_plan: Decimal
    from_purchased: Decimal
    overage: Decimal  # credits beyond the balance, billed in money
    expired: Decimal  # plan credits that expire at the end of the period
    rolled_out: Decimal  # plan credits carried to the next period
    purchased_out: Decimal  # prepaid credits carried to the next period

    @property
    def drawn(self) -> Decimal:
        return self.from_plan + self.from_purchased


@dataclass(frozen=True, slots=True)
class CreditNoteIn:
    id: int
    number: str
    remaining: Decimal  # not yet applied to a finalized invoice


@dataclass(frozen=True, slots=True)
class LateBatch:
    """Events of an earlier, already finalized period that were decided after it closed."""

    period: str
    terms: Terms | None
    carry_in: Carry
    billed: tuple[Group, ...]  # what that period's invoices already billed
    late: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class Attainment:
    """One outcome type's outcomes in a closed period, counted by billing.pricing.attainment's rule."""

    outcome_type: str
    billable: int
    attempted: int  # billable + failed; outcomes not attempted (and pending ones) are in neither

    def as_dict(self) -> dict:
        return {"outcome_type": self.outcome_type, "billable": self.billable, "attempted": self.attempted}

    @classmethod
    def from_dict(cls, d: dict) -> Attainment:
        return cls(d["outcome_type"], int(d["billable"]), int(d["attempted"]))


@dataclass(frozen=True, slots=True)
class PeriodInput:
    period: str  # YYYY-MM
    currency: str
    terms: Terms | None  # None: no contract — catalogue prices per resolution
    groups: tuple[Group, ...]
    default_prices: tuple[tuple[str, Decimal], ...] = ()  # catalogue unit price per type code
    type_names: tuple[tuple[str, str], ...] = ()
    carry_in: Carry = field(default_factory=Carry)
    late: tuple[LateBatch, ...] = ()
    credit_notes: tuple[CreditNoteIn, ...] = ()
    prepaid: tuple[PrepaidIn, ...] = ()  # the period's prepaid credit entries (credit ledger)
    # The account's lifecycle status at the period's end was active: unused plan credits roll over
    # (under a contract that rolls them over) only then; a suspended or churned account's expire.
    active: bool = True
    # The closed period's attainment per outcome type, read when its invoice is finalized under a
    # contract with a guarantee. None: not checked — a draft, and every figure of a period under way
    # (the guarantee is checked when the period closes). () : checked, nothing attempted.
    attainment: tuple[Attainment, ...] | None = None


@dataclass(frozen=True, slots=True)
class Alloc:
    """The events a line bills. Ranks count the type's events in (occurred_at, id) order."""

    segment: str  # the period the events belong to
    outcome_type: str
    tier: str | None  # effective complexity; None: all
    classes: str  # events linked to the line: "R" resolved, "A" unresolved attempts, "RA" both
    rank_from: int = 1
    rank_to: int | None = None
    event_amount: Decimal | None = None  # each linked event's amount (6 places)
    event_credits: Decimal | None = None
    gain_share: tuple[Decimal, Decimal] | None = None  # (percent, baseline): amount computed per event
    show: str = ""  # classes shown on drill-down when wider than the linked ones ("RA" for ticket fees)


@dataclass(frozen=True, slots=True)
class Line:
    key: str  # stable identity within the invoice (drafts keep line ids across refreshes)
    kind: str
    description: str
    amount: Decimal  # rounded to the currency — the only rounding
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    outcome_type: str | None = None
    credits: Decimal | None = None  # credit contracts: credits this line uses
    unit_credits: Decimal | None = None
    alloc: Alloc | None = None
    ref: int | None = None  # credit_note id for credit lines


@dataclass(frozen=True, slots=True)
class PricedInvoice:
    lines: tuple[Line, ...]
    subtotal: Decimal
    credits_applied: Decimal
    total: Decimal
    carry_out: Carry
    notes: tuple[str, ...] = ()
    credit_use: CreditUse | None = None  # None: no credits in play this period


def n(value: int | Decimal) -> str:
    """1,000 — also for a normalized Decimal (Decimal("1E+3") formats as "1,000", never "1E+3")."""
    if isinstance(value, Decimal):
        return f"{value.normalize():,f}"
    return f"{value:,}"


def price_text(price: Decimal, currency: str, in_credits: bool) -> str:
    if in_credits:
        return f"{price.normalize():,f} credits"
    return price_display(price, currency)


@dataclass(frozen=True, slots=True)
class Spec:
    key: str
    code: str
    tier: str | None
    classes: str
    segment: str
    currency: str
    credit_price: Decimal | None  # set when the prices are in credits


def unit_line(spec: Spec, suffix: str, text: str, q: int, unit: Decimal, first: int, last: int) -> Line:
    alloc = Alloc(spec.segment, spec.code, spec.tier, spec.classes, first, last)
    if spec.credit_price is not None:
        # Credits: the line uses credits; money comes from the plan (and credit overage, if any).
        each = round_event(unit * spec.credit_price)
        return Line(f"{spec.key}:{suffix}", "outcome", f"{text} — {n(q)} × {price_text(unit, spec.currency, True)}",
                    ZERO, Decimal(q), ZERO, spec.code, credits=unit * q, unit_credits=unit,
                    alloc=replace(alloc, event_amount=each, event_credits=unit))  # fmt: skip
    return Line(f"{spec.key}:{suffix}", "outcome", text, round_line(unit * q, spec.currency), Decimal(q), unit,
                spec.code, alloc=replace(alloc, event_amount=round_event(unit)))  # fmt: skip
