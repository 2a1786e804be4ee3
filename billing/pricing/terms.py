"""Contract terms as small frozen dataclasses: what an account pays. Pure — no Django.

The JSON document the API accepts is parsed by :mod:`billing.contracts` into these; each pricing
model (:mod:`billing.pricing.models`) reads the fields of :class:`TypePrice` it uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from metering import engine
from outcomeportal.core.periods import period_add, period_first_day

UNITS = ("money", "credits")
BASES = ("per_resolution", "per_conversation")
RENEWALS = ("auto", "none")
COMPLEXITIES = ("simple", "moderate", "complex")
# Non-billable reasons of an *attempt*: the conversation happened but did not resolve (the
# engine's word list). Per-conversation contracts and helpdesk ticket fees charge these.
ATTEMPT_REASONS = engine.ATTEMPT_REASONS


@dataclass(frozen=True, slots=True)
class Band:
    up_to: int | None  # inclusive upper bound of monthly quantity; None: no upper bound
    price: Decimal


@dataclass(frozen=True, slots=True)
class TypePrice:
    """How one outcome type is priced. Prices are money or credits, as the contract's ``unit``."""

    outcome_type: str
    model: str = "unit"
    price: Decimal | None = None  # unit
    tiers: tuple[tuple[str, Decimal], ...] = ()  # complexity: ((simple, p), (moderate, p), (complex, p))
    default_tier: str = "simple"  # complexity of an event that reports none
    bands: tuple[Band, ...] = ()  # graduated / volume
    item_fee: Decimal | None = None  # helpdesk: every ticket (attempt)
    automation_fee: Decimal | None = None  # helpdesk: only when the AI resolved it
    percent: Decimal | None = None  # gain_share: % of value_amount above baseline
    baseline: Decimal = Decimal(0)  # gain_share: per event

    def tier_price(self, tier: str) -> Decimal:
        return dict(self.tiers)[tier or self.default_tier]


@dataclass(frozen=True, slots=True)
class PlatformFee:
    amount: Decimal
    name: str = "Platform fee"
    included_outcomes: int = 0  # money contracts: this many outcomes a month at no charge
    included_types: tuple[str, ...] = ()  # which types the included outcomes cover; () = all
    included_credits: Decimal = Decimal(0)  # credit contracts: credits granted each month
    rollover: bool = False  # unused included credits roll over while the account is active (else expire)


@dataclass(frozen=True, slots=True)
class Commitment:
    amount: Decimal  # committed spend over the term
    start: str  # first period of the term, YYYY-MM
    months: int = 12
    prepaid: bool = False  # True: invoiced up front, drawn down; False: billed in arrears + true-up

    def periods(self) -> tuple[str, ...]:
        return tuple(period_add(self.start, n) for n in range(self.months))


@dataclass(frozen=True, slots=True)
class Onboarding:
    starts: date
    training_days: int = 0  # outcomes before starts + training_days are non-billable `training_window`
    pilot_free_outcomes: int = 0  # the first N outcomes are non-billable `pilot_free`
    implementation_fee: Decimal | None = None  # billed once, on the invoice of the period containing `starts`

    @property
    def training_until(self) -> date | None:
        return self.starts + timedelta(days=self.training_days) if self.training_days else None


@dataclass(frozen=True, slots=True)
class PriceLock:
    starts: date
    previous_plan_cost: Decimal  # the monthly cost of the plan the customer migrated from
    days: int = 90

    @property
    def ends(self) -> date:
        return self.starts + timedelta(days=self.days)


@dataclass(frozen=True, slots=True)
class Guarantee:
    """An outcome guarantee: the share of one type's attempted outcomes that will be billable each
    period. A period that closes below it gets a shortfall credit (:mod:`billing.pricing.guarantee`)."""

    outcome_type: str
    min_attainment: Decimal  # a ratio of at most 1, 4 places: "0.85" guarantees 85 % attainment
    credit_percent_per_point: Decimal  # % of the type's outcome charges credited per percentage point below


@dataclass(frozen=True, slots=True)
class ContractTerm:
    """How long the contract runs and what happens at its end (:mod:`billing.contract_term` reads
    the dates). It states the agreement; prices never depend on it — after an end without renewal,
    the last version keeps governing until a new one is saved, and the vendor is told."""

    starts: date  # the first day of the first term
    months: int = 12
    renewal: str = "auto"  # auto: renews for renewal_months at each end; none: ends
    renewal_months: int = 12
    notice_days: int = 30  # notice of non-renewal is due this many days before an end


@dataclass(frozen=True, slots=True)
class FeeShare:
    """One contract's share of a prorated month's platform fee: its days, and its fee and what the fee
    includes for those days (already rounded: the two shares add up to the version's platform fee)."""

    name: str
    days: int
    amount: Decimal
    included_outcomes: int = 0
    included_credits: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Proration:
    """A contract changed inside a month with immediate effect (billing.pricing.proration): this
    version governs that whole month — its outcomes are priced under the new terms — and its platform
    fee is the two contracts' fees prorated by days, stated on the invoice as two lines."""

    changed_on: date  # the new contract's first day; the month's earlier days were the old one's
    days_in_period: int
    before: FeeShare
    after: FeeShare


@dataclass(frozen=True, slots=True)
class Terms:
    effective_from: date
    unit: str = "money"
    credit_price: Decimal | None = None  # money per credit: the published conversion
    basis: str = "per_resolution"
    prices: tuple[TypePrice, ...] = ()
    platform_fee: PlatformFee | None = None
    commitment: Commitment | None = None
    onboarding: Onboarding | None = None
    price_lock: PriceLock | None = None
    monthly_minimum: Decimal | None = None
    guarantee: Guarantee | None = None
    notes: str = ""
    # Net N: an invoice of a period governed by this version is due N days after it is issued.
    payment_terms_days: int = 30
    proration: Proration | None = None  # a version written for the month of a prorated change
    term: ContractTerm | None = None  # the contract's term and renewal (informative: see ContractTerm)

    def price_for(self, outcome_type: str) -> TypePrice | None:
        for p in self.prices:
            if p.outcome_type == outcome_type:
                return p
        return None

    @property
    def in_credits(self) -> bool:
        return self.unit == "credits"


class TermsInvalid(ValueError):
    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def version_for_period(versions: list[tuple[date, int, object]], period: str):
    """The contract version that governs a whole period.

    ``versions`` are (effective_from, version number, payload). The latest version in force on
    the period's first day governs it; a contract that starts inside the period (no version yet
    on its first day) governs that period from its start. Changes therefore take effect from
    the next whole period, and an account is never priced under two versions in one month.
    """
    first = period_first_day(period)
    nxt = period_first_day(period_add(period, 1))
    ordered = sorted(versions, key=lambda v: (v[0], v[1]))
    in_force = [v for v in ordered if v[0] <= first]
    if in_force:
        return in_force[-1][2]
    starting = [v for v in ordered if first < v[0] < nxt]
    return starting[-1][2] if starting else None
