"""Contract terms: what an account pays, as small frozen dataclasses. Pure — no Django.

A contract version's terms are stored as the JSON document the API accepts
(:func:`terms_parse` validates it, :func:`terms_json` writes it back, normalised), and
priced by :mod:`billing.pricing`. Every commercial structure of the domain is a field:

=========================  ==========================================================
structure                  terms
=========================  ==========================================================
pure outcome / add-on      ``prices[].model = "unit"``, ``price`` per outcome
credits                    ``unit = "credits"``, ``credit_price`` (money per credit)
complexity tiers           ``model = "complexity"``, ``tiers`` simple/moderate/complex
graduated / volume         ``model = "graduated" | "volume"``, ``bands``
platform fee + included    ``platform_fee`` with ``included_outcomes`` or
                           ``included_credits`` (+ ``rollover``); overage = the prices
helpdesk hybrid            ``model = "helpdesk"``: ``item_fee`` every ticket +
                           ``automation_fee`` when resolved
committed spend            ``commitment``: amount over ``months`` from ``start``;
                           ``prepaid`` drawdown or a true-up at the end of the term
gain-share                 ``model = "gain_share"``: ``percent`` of value above ``baseline``
dual choice                ``basis = "per_resolution" | "per_conversation"``
onboarding                 ``onboarding``: ``training_days``, ``pilot_free_outcomes``,
                           ``implementation_fee``
price lock                 ``price_lock``: ``days`` (90), ``previous_plan_cost``
minimum commitment         ``monthly_minimum``
=========================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from metering import engine
from outcomeportal.core.periods import period_add, period_first_day, period_parse

UNITS = ("money", "credits")
BASES = ("per_resolution", "per_conversation")
MODELS = ("unit", "complexity", "graduated", "volume", "helpdesk", "gain_share")
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

    @property
    def counts_attempts(self) -> bool:
        return self.model == "helpdesk"


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
    notes: str = ""

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


# --- Parsing ----------------------------------------------------------------------------


class _Errors:
    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)


def _dec(raw, name: str, errors: _Errors, *, required: bool = False, places: int = 6, positive: bool = False):
    if raw is None:
        if required:
            errors.add(name, "Required.")
        return None
    if not isinstance(raw, str):
        errors.add(name, 'A decimal string such as "0.99" (never a JSON number).')
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors.add(name, 'A decimal string such as "0.99".')
        return None
    if not value.is_finite() or abs(value) >= Decimal("1e12"):
        errors.add(name, "Out of range.")
        return None
    if value < 0:
        errors.add(name, "Must not be negative.")
        return None
    if positive and value == 0:
        errors.add(name, "Must be greater than zero.")
        return None
    if value.as_tuple().exponent < -places:
        errors.add(name, f"At most {places} decimal places.")
        return None
    return value


def _int(raw, name: str, errors: _Errors, *, default: int | None = 0, minimum: int = 0, maximum: int = 10**12):
    if raw is None:
        return default
    if not isinstance(raw, int) or isinstance(raw, bool) or not minimum <= raw <= maximum:
        errors.add(name, f"An integer from {minimum} to {maximum}.")
        return default
    return raw


def _date(raw, name: str, errors: _Errors, *, default: date | None = None):
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else _bad_date()
    except ValueError:
        errors.add(name, "A date, YYYY-MM-DD.")
        return default


def _bad_date():
    raise ValueError


def _obj(raw, name: str, errors: _Errors, allowed: set[str]) -> dict | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors.add(name, "An object.")
        return None
    for key in set(raw) - allowed:
        errors.add(f"{name}.{key}", "Unknown field.")
    return raw


def _bool(raw, name: str, errors: _Errors, default: bool = False) -> bool:
    if raw is None:
        return default
    if not isinstance(raw, bool):
        errors.add(name, "true or false.")
        return default
    return raw


_PRICE_FIELDS = {
    "unit": {"outcome_type", "model", "price"},
    "complexity": {"outcome_type", "model", "tiers", "default_tier"},
    "graduated": {"outcome_type", "model", "bands"},
    "volume": {"outcome_type", "model", "bands"},
    "helpdesk": {"outcome_type", "model", "item_fee", "automation_fee"},
    "gain_share": {"outcome_type", "model", "percent", "baseline"},
}


def _type_price(raw, name: str, errors: _Errors) -> TypePrice | None:
    if not isinstance(raw, dict):
        errors.add(name, "An object with outcome_type and model.")
        return None
    model = raw.get("model", "unit")
    if model not in MODELS:
        errors.add(f"{name}.model", f"One of {', '.join(MODELS)}.")
        return None
    _obj(raw, name, errors, _PRICE_FIELDS[model])
    code = raw.get("outcome_type")
    if not isinstance(code, str) or not code:
        errors.add(f"{name}.outcome_type", "An outcome type code.")
        code = ""
    if model == "unit":
        return TypePrice(code, model, price=_dec(raw.get("price"), f"{name}.price", errors, required=True))
    if model == "complexity":
        tiers_raw = raw.get("tiers")
        if not isinstance(tiers_raw, dict) or set(tiers_raw) != set(COMPLEXITIES):
            errors.add(f"{name}.tiers", 'An object with "simple", "moderate" and "complex" prices.')
            return None
        tiers = tuple((c, _dec(tiers_raw[c], f"{name}.tiers.{c}", errors, required=True)) for c in COMPLEXITIES)
        default_tier = raw.get("default_tier", "simple")
        if default_tier not in COMPLEXITIES:
            errors.add(f"{name}.default_tier", f"One of {', '.join(COMPLEXITIES)}.")
        return TypePrice(code, model, tiers=tiers, default_tier=default_tier)
    if model in ("graduated", "volume"):
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
            _obj(band, bname, errors, {"up_to", "price"})
            last = i == len(bands_raw) - 1
            up_to = band.get("up_to")
            if last and up_to is not None:
                errors.add(f"{bname}.up_to", "The last band has no upper bound (null).")
            elif not last:
                up_to = _int(up_to, f"{bname}.up_to", errors, default=None, minimum=previous + 1)
                if up_to is None:
                    errors.add(f"{bname}.up_to", "Bounds must increase.")
                    continue
                previous = up_to
            bands.append(Band(up_to, _dec(band.get("price"), f"{bname}.price", errors, required=True)))
        return TypePrice(code, model, bands=tuple(bands))
    if model == "helpdesk":
        return TypePrice(
            code,
            model,
            item_fee=_dec(raw.get("item_fee"), f"{name}.item_fee", errors, required=True),
            automation_fee=_dec(raw.get("automation_fee"), f"{name}.automation_fee", errors, required=True),
        )
    percent = _dec(raw.get("percent"), f"{name}.percent", errors, required=True, places=4)
    if percent is not None and percent > 100:
        errors.add(f"{name}.percent", "At most 100.")
    return TypePrice(
        code,
        model,
        percent=percent,
        baseline=_dec(raw.get("baseline", "0"), f"{name}.baseline", errors) or Decimal(0),
    )


_TOP = {
    "effective_from",
    "unit",
    "credit_price",
    "basis",
    "prices",
    "platform_fee",
    "commitment",
    "onboarding",
    "price_lock",
    "monthly_minimum",
    "notes",
}


def terms_parse(raw: object, *, known_types: set[str] | None = None) -> Terms:
    """Validate a contract document; raise :class:`TermsInvalid` with field → messages."""
    errors = _Errors()
    if not isinstance(raw, dict):
        raise TermsInvalid({"non_field_errors": ["A JSON object."]})
    _obj(raw, "", errors, _TOP)
    errors.fields = {k.lstrip("."): v for k, v in errors.fields.items()}
    effective_from = _date(raw.get("effective_from"), "effective_from", errors)
    if effective_from is None and "effective_from" not in errors.fields:
        errors.add("effective_from", "Required: the date this version takes effect (YYYY-MM-DD).")
    unit = raw.get("unit", "money")
    if unit not in UNITS:
        errors.add("unit", f"One of {', '.join(UNITS)}.")
    credit_price = _dec(raw.get("credit_price"), "credit_price", errors, positive=True)
    if unit == "credits" and credit_price is None and "credit_price" not in errors.fields:
        errors.add("credit_price", "Required with credits: the money value of one credit (the published conversion).")
    basis = raw.get("basis", "per_resolution")
    if basis not in BASES:
        errors.add("basis", f"One of {', '.join(BASES)}.")

    prices: list[TypePrice] = []
    prices_raw = raw.get("prices", [])
    if not isinstance(prices_raw, list):
        errors.add("prices", "A list of outcome type prices.")
        prices_raw = []
    seen: set[str] = set()
    for i, item in enumerate(prices_raw):
        price = _type_price(item, f"prices.{i}", errors)
        if price is None:
            continue
        if price.outcome_type in seen:
            errors.add(f"prices.{i}.outcome_type", "Priced twice.")
        if known_types is not None and price.outcome_type and price.outcome_type not in known_types:
            errors.add(f"prices.{i}.outcome_type", f"Unknown outcome type {price.outcome_type!r}.")
        if unit == "credits" and price.model in ("gain_share", "helpdesk"):
            errors.add(f"prices.{i}.model", "Gain-share and helpdesk fees are priced in money, not credits.")
        seen.add(price.outcome_type)
        prices.append(price)

    platform_fee = None
    pf = _obj(
        raw.get("platform_fee"),
        "platform_fee",
        errors,
        {"amount", "name", "included_outcomes", "included_types", "included_credits", "rollover"},
    )
    if pf is not None:
        included_types = pf.get("included_types", [])
        if not isinstance(included_types, list) or not all(isinstance(t, str) for t in included_types):
            errors.add("platform_fee.included_types", "A list of outcome type codes.")
            included_types = []
        name = pf.get("name", "Platform fee")
        if not isinstance(name, str) or not 0 < len(name) <= 120:
            errors.add("platform_fee.name", "A name of 1 to 120 characters.")
            name = "Platform fee"
        platform_fee = PlatformFee(
            amount=_dec(pf.get("amount"), "platform_fee.amount", errors, required=True) or Decimal(0),
            name=name,
            included_outcomes=_int(pf.get("included_outcomes"), "platform_fee.included_outcomes", errors),
            included_types=tuple(included_types),
            included_credits=_dec(pf.get("included_credits"), "platform_fee.included_credits", errors, places=4)
            or Decimal(0),
            rollover=_bool(pf.get("rollover"), "platform_fee.rollover", errors),
        )
        if unit == "money" and platform_fee.included_credits:
            errors.add("platform_fee.included_credits", "Only with unit credits; use included_outcomes.")
        if unit == "credits" and platform_fee.included_outcomes:
            errors.add("platform_fee.included_outcomes", "With credits, include credits (included_credits).")

    commitment = None
    cm = _obj(raw.get("commitment"), "commitment", errors, {"amount", "start", "months", "prepaid"})
    if cm is not None:
        start = period_parse(cm.get("start")) if cm.get("start") is not None else None
        if start is None:
            errors.add("commitment.start", "The first period of the term, YYYY-MM.")
        commitment = Commitment(
            amount=_dec(cm.get("amount"), "commitment.amount", errors, required=True, positive=True) or Decimal(0),
            start=start or "1970-01",
            months=_int(cm.get("months"), "commitment.months", errors, default=12, minimum=1, maximum=120),
            prepaid=_bool(cm.get("prepaid"), "commitment.prepaid", errors),
        )

    onboarding = None
    ob = _obj(
        raw.get("onboarding"),
        "onboarding",
        errors,
        {"starts", "training_days", "pilot_free_outcomes", "implementation_fee"},
    )
    if ob is not None:
        onboarding = Onboarding(
            starts=_date(ob.get("starts"), "onboarding.starts", errors, default=effective_from) or date(1970, 1, 1),
            training_days=_int(ob.get("training_days"), "onboarding.training_days", errors, maximum=3660),
            pilot_free_outcomes=_int(ob.get("pilot_free_outcomes"), "onboarding.pilot_free_outcomes", errors),
            implementation_fee=_dec(ob.get("implementation_fee"), "onboarding.implementation_fee", errors),
        )

    price_lock = None
    pl = _obj(raw.get("price_lock"), "price_lock", errors, {"starts", "days", "previous_plan_cost"})
    if pl is not None:
        price_lock = PriceLock(
            starts=_date(pl.get("starts"), "price_lock.starts", errors, default=effective_from) or date(1970, 1, 1),
            previous_plan_cost=_dec(
                pl.get("previous_plan_cost"), "price_lock.previous_plan_cost", errors, required=True
            )
            or Decimal(0),
            days=_int(pl.get("days"), "price_lock.days", errors, default=90, minimum=1, maximum=3660),
        )

    notes = raw.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 2000:
        errors.add("notes", "Text of at most 2,000 characters.")
        notes = ""
    if errors.fields:
        raise TermsInvalid(errors.fields)
    return Terms(
        effective_from=effective_from,
        unit=unit,
        credit_price=credit_price,
        basis=basis,
        prices=tuple(prices),
        platform_fee=platform_fee,
        commitment=commitment,
        onboarding=onboarding,
        price_lock=price_lock,
        monthly_minimum=_dec(raw.get("monthly_minimum"), "monthly_minimum", errors),
        notes=notes,
    )


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def terms_json(terms: Terms) -> dict:
    """The normalised JSON document of ``terms`` (what is stored and what GET returns)."""
    prices = []
    for p in terms.prices:
        item: dict = {"outcome_type": p.outcome_type, "model": p.model}
        if p.model == "unit":
            item["price"] = _s(p.price)
        elif p.model == "complexity":
            item["tiers"] = {c: _s(v) for c, v in p.tiers}
            item["default_tier"] = p.default_tier
        elif p.model in ("graduated", "volume"):
            item["bands"] = [{"up_to": b.up_to, "price": _s(b.price)} for b in p.bands]
        elif p.model == "helpdesk":
            item["item_fee"], item["automation_fee"] = _s(p.item_fee), _s(p.automation_fee)
        else:
            item["percent"], item["baseline"] = _s(p.percent), _s(p.baseline)
        prices.append(item)
    doc: dict = {
        "effective_from": terms.effective_from.isoformat(),
        "unit": terms.unit,
        "credit_price": _s(terms.credit_price),
        "basis": terms.basis,
        "prices": prices,
        "platform_fee": None,
        "commitment": None,
        "onboarding": None,
        "price_lock": None,
        "monthly_minimum": _s(terms.monthly_minimum),
        "notes": terms.notes,
    }
    if (pf := terms.platform_fee) is not None:
        doc["platform_fee"] = {
            "name": pf.name,
            "amount": _s(pf.amount),
            "included_outcomes": pf.included_outcomes,
            "included_types": list(pf.included_types),
            "included_credits": _s(pf.included_credits),
            "rollover": pf.rollover,
        }
    if (cm := terms.commitment) is not None:
        doc["commitment"] = {"amount": _s(cm.amount), "start": cm.start, "months": cm.months, "prepaid": cm.prepaid}
    if (ob := terms.onboarding) is not None:
        doc["onboarding"] = {
            "starts": ob.starts.isoformat(),
            "training_days": ob.training_days,
            "pilot_free_outcomes": ob.pilot_free_outcomes,
            "implementation_fee": _s(ob.implementation_fee),
        }
    if (pl := terms.price_lock) is not None:
        doc["price_lock"] = {
            "starts": pl.starts.isoformat(),
            "days": pl.days,
            "previous_plan_cost": _s(pl.previous_plan_cost),
        }
    return doc


def terms_load(doc: dict) -> Terms:
    """Terms from a stored (already validated) document."""
    return terms_parse({k: v for k, v in doc.items() if v is not None})
