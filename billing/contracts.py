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
outcome guarantee          ``guarantee``: ``outcome_type``, ``min_attainment``,
                           ``credit_percent_per_point`` (a shortfall credit)
term and renewal           ``term``: ``starts``, ``months``, ``renewal`` (``auto`` | ``none``),
                           ``renewal_months``, ``notice_days`` (billing.contract_term)
=========================  ==========================================================
"""

from __future__ import annotations

import calendar
from dataclasses import replace
from datetime import date
from decimal import Decimal

from billing.pricing.fields import Errors, boolean, date_field, dec, integer, obj
from billing.pricing.models import MODELS
from billing.pricing.terms import (
    ATTEMPT_REASONS,
    BASES,
    COMPLEXITIES,
    RENEWALS,
    UNITS,
    Band,
    Commitment,
    ContractTerm,
    FeeShare,
    Guarantee,
    Onboarding,
    PlatformFee,
    PriceLock,
    Proration,
    Terms,
    TermsInvalid,
    TypePrice,
    version_for_period,
)
from outcomeportal.core.periods import period_parse

DEFAULT_PAYMENT_TERMS_DAYS = 30  # net 30 where a contract says nothing else
_EPOCH = date(1970, 1, 1)  # a placeholder date where the document had an invalid one (it is refused anyway)

__all__ = [
    "ATTEMPT_REASONS",
    "COMPLEXITIES",
    "Band",
    "Terms",
    "TermsInvalid",
    "TypePrice",
    "terms_json",
    "terms_load",
    "terms_parse",
    "version_for_period",
]


def _type_price(raw, name: str, errors: Errors) -> TypePrice | None:
    """One entry of ``prices``: its model's own fields, validated by the model (billing.pricing.models)."""
    if not isinstance(raw, dict):
        errors.add(name, "An object with outcome_type and model.")
        return None
    model = MODELS.get(raw.get("model", "unit"))
    if model is None:
        errors.add(f"{name}.model", f"One of {', '.join(MODELS)}.")
        return None
    obj(raw, name, errors, {"outcome_type", "model", *model.fields})
    code = raw.get("outcome_type")
    if not isinstance(code, str) or not code:
        errors.add(f"{name}.outcome_type", "An outcome type code.")
        code = ""
    return model.parse(raw, name, errors, code)


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
    "guarantee",
    "notes",
    "payment_terms_days",
    "proration",
    "term",
}


def terms_parse(raw: object, *, known_types: set[str] | None = None) -> Terms:
    """Validate a contract document; raise :class:`TermsInvalid` with field → messages."""
    errors = Errors()
    if not isinstance(raw, dict):
        raise TermsInvalid({"non_field_errors": ["A JSON object."]})
    obj(raw, "", errors, _TOP)
    errors.fields = {k.lstrip("."): v for k, v in errors.fields.items()}
    effective_from = date_field(raw.get("effective_from"), "effective_from", errors)
    if effective_from is None and "effective_from" not in errors.fields:
        errors.add("effective_from", "Required: the date this version takes effect (YYYY-MM-DD).")
    unit = raw.get("unit", "money")
    if unit not in UNITS:
        errors.add("unit", f"One of {', '.join(UNITS)}.")
    credit_price = dec(raw.get("credit_price"), "credit_price", errors, positive=True)
    if unit == "credits" and credit_price is None and "credit_price" not in errors.fields:
        errors.add("credit_price", "Required with credits: the money value of one credit (the published conversion).")
    basis = raw.get("basis", "per_resolution")
    if basis not in BASES:
        errors.add("basis", f"One of {', '.join(BASES)}.")
    notes = raw.get("notes", "")
    if not isinstance(notes, str) or len(notes) > 2000:
        errors.add("notes", "Text of at most 2,000 characters.")
        notes = ""
    terms = Terms(
        effective_from=effective_from,
        unit=unit,
        credit_price=credit_price,
        basis=basis,
        prices=_prices(raw, unit, known_types, errors),
        platform_fee=_platform_fee(raw, unit, errors),
        commitment=_commitment(raw, errors),
        onboarding=_onboarding(raw, effective_from, errors),
        price_lock=_price_lock(raw, effective_from, errors),
        monthly_minimum=dec(raw.get("monthly_minimum"), "monthly_minimum", errors),
        guarantee=_guarantee(raw, unit, known_types, errors),
        notes=notes,
        payment_terms_days=integer(
            raw.get("payment_terms_days"), "payment_terms_days", errors, default=DEFAULT_PAYMENT_TERMS_DAYS, maximum=365
        ),
        term=_term(raw, errors),
    )
    if "proration" in raw and raw["proration"] is not None:
        terms = replace(terms, proration=_proration(raw, terms, errors))
    if errors.fields:
        raise TermsInvalid(errors.fields)
    return terms


def _fee_share(raw: dict, name: str, errors: Errors) -> FeeShare:
    share = obj(raw, name, errors, {"name", "days", "amount", "included_outcomes", "included_credits"}) or {}
    label = share.get("name", "Platform fee")
    if not isinstance(label, str) or not 0 < len(label) <= 120:
        errors.add(f"{name}.name", "A name of 1 to 120 characters.")
        label = "Platform fee"
    return FeeShare(
        name=label,
        days=integer(share.get("days"), f"{name}.days", errors, default=None, minimum=1, maximum=31) or 0,
        amount=dec(share.get("amount"), f"{name}.amount", errors, required=True) or Decimal(0),
        included_outcomes=integer(share.get("included_outcomes"), f"{name}.included_outcomes", errors),
        included_credits=dec(share.get("included_credits"), f"{name}.included_credits", errors, places=4) or Decimal(0),
    )


def _proration(raw: dict, terms: Terms, errors: Errors) -> Proration | None:
    """A version written for the month of a prorated change (billing.pricing.proration): its two
    shares must add up to its platform fee, over the days of the month it governs from its first day."""
    pr = obj(raw.get("proration"), "proration", errors, {"changed_on", "days_in_period", "before", "after"})
    if pr is None:
        return None
    changed_on = date_field(pr.get("changed_on"), "proration.changed_on", errors)
    before, after = (
        _fee_share(pr.get("before"), "proration.before", errors),
        _fee_share(pr.get("after"), "proration.after", errors),
    )
    month_days = integer(
        pr.get("days_in_period"), "proration.days_in_period", errors, default=None, minimum=28, maximum=31
    )
    if errors.fields or changed_on is None or terms.effective_from is None:
        return None
    if changed_on.day == 1 or terms.effective_from != changed_on.replace(day=1):
        errors.add("proration.changed_on", "A day inside the month this version governs from its first day.")
    if (
        month_days != calendar.monthrange(changed_on.year, changed_on.month)[1]
        or before.days + after.days != month_days
    ):
        errors.add("proration.days_in_period", "The days of the change's month, the two shares' days added up.")
    pf = terms.platform_fee
    totals = (pf.amount, pf.included_outcomes, pf.included_credits) if pf else (Decimal(0), 0, Decimal(0))
    shares = (before.amount + after.amount, before.included_outcomes + after.included_outcomes,
              before.included_credits + after.included_credits)  # fmt: skip
    if totals != shares:
        errors.add("proration", "The two shares add up to the platform fee and what it includes.")
    return Proration(changed_on=changed_on, days_in_period=month_days, before=before, after=after)


def _prices(raw: dict, unit: str, known_types: set[str] | None, errors: Errors) -> tuple[TypePrice, ...]:
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
        if unit == "credits" and MODELS[price.model].money_only:
            errors.add(f"prices.{i}.model", "Gain-share and helpdesk fees are priced in money, not credits.")
        seen.add(price.outcome_type)
        prices.append(price)
    return tuple(prices)


def _platform_fee(raw: dict, unit: str, errors: Errors) -> PlatformFee | None:
    fields = {"amount", "name", "included_outcomes", "included_types", "included_credits", "rollover"}
    pf = obj(raw.get("platform_fee"), "platform_fee", errors, fields)
    if pf is None:
        return None
    included_types = pf.get("included_types", [])
    if not isinstance(included_types, list) or not all(isinstance(t, str) for t in included_types):
        errors.add("platform_fee.included_types", "A list of outcome type codes.")
        included_types = []
    name = pf.get("name", "Platform fee")
    if not isinstance(name, str) or not 0 < len(name) <= 120:
        errors.add("platform_fee.name", "A name of 1 to 120 characters.")
        name = "Platform fee"
    fee = PlatformFee(
        amount=dec(pf.get("amount"), "platform_fee.amount", errors, required=True) or Decimal(0),
        name=name,
        included_outcomes=integer(pf.get("included_outcomes"), "platform_fee.included_outcomes", errors),
        included_types=tuple(included_types),
        included_credits=dec(pf.get("included_credits"), "platform_fee.included_credits", errors, places=4)
        or Decimal(0),
        rollover=boolean(pf.get("rollover"), "platform_fee.rollover", errors),
    )
    if unit == "money" and fee.included_credits:
        errors.add("platform_fee.included_credits", "Only with unit credits; use included_outcomes.")
    if unit == "credits" and fee.included_outcomes:
        errors.add("platform_fee.included_outcomes", "With credits, include credits (included_credits).")
    return fee


def _commitment(raw: dict, errors: Errors) -> Commitment | None:
    cm = obj(raw.get("commitment"), "commitment", errors, {"amount", "start", "months", "prepaid"})
    if cm is None:
        return None
    start = period_parse(cm.get("start")) if cm.get("start") is not None else None
    if start is None:
        errors.add("commitment.start", "The first period of the term, YYYY-MM.")
    return Commitment(
        amount=dec(cm.get("amount"), "commitment.amount", errors, required=True, positive=True) or Decimal(0),
        start=start or "1970-01",
        months=integer(cm.get("months"), "commitment.months", errors, default=12, minimum=1, maximum=120),
        prepaid=boolean(cm.get("prepaid"), "commitment.prepaid", errors),
    )


def _onboarding(raw: dict, effective_from: date | None, errors: Errors) -> Onboarding | None:
    fields = {"starts", "training_days", "pilot_free_outcomes", "implementation_fee"}
    ob = obj(raw.get("onboarding"), "onboarding", errors, fields)
    if ob is None:
        return None
    return Onboarding(
        starts=date_field(ob.get("starts"), "onboarding.starts", errors, default=effective_from) or _EPOCH,
        training_days=integer(ob.get("training_days"), "onboarding.training_days", errors, maximum=3660),
        pilot_free_outcomes=integer(ob.get("pilot_free_outcomes"), "onboarding.pilot_free_outcomes", errors),
        implementation_fee=dec(ob.get("implementation_fee"), "onboarding.implementation_fee", errors),
    )


def _price_lock(raw: dict, effective_from: date | None, errors: Errors) -> PriceLock | None:
    pl = obj(raw.get("price_lock"), "price_lock", errors, {"starts", "days", "previous_plan_cost"})
    if pl is None:
        return None
    return PriceLock(
        starts=date_field(pl.get("starts"), "price_lock.starts", errors, default=effective_from) or _EPOCH,
        previous_plan_cost=dec(pl.get("previous_plan_cost"), "price_lock.previous_plan_cost", errors, required=True)
        or Decimal(0),
        days=integer(pl.get("days"), "price_lock.days", errors, default=90, minimum=1, maximum=3660),
    )


def _term(raw: dict, errors: Errors) -> ContractTerm | None:
    fields = {"starts", "months", "renewal", "renewal_months", "notice_days"}
    t = obj(raw.get("term"), "term", errors, fields)
    if t is None:
        return None
    starts = date_field(t.get("starts"), "term.starts", errors)
    if starts is None and "term.starts" not in errors.fields:
        errors.add("term.starts", "Required: the first day of the contract's first term (YYYY-MM-DD).")
    renewal = t.get("renewal", "auto")
    if renewal not in RENEWALS:
        errors.add("term.renewal", "auto (renews at each end) or none (ends).")
    months = integer(t.get("months"), "term.months", errors, default=12, minimum=1, maximum=120)
    renewal_months = integer(t.get("renewal_months"), "term.renewal_months", errors, default=months, minimum=1,
                             maximum=120)  # fmt: skip
    if renewal == "none" and t.get("renewal_months") is not None:
        errors.add("term.renewal_months", "Only for a term that renews (renewal auto).")
    return ContractTerm(
        starts=starts or _EPOCH,
        months=months,
        renewal=renewal if renewal in RENEWALS else "auto",
        renewal_months=renewal_months,
        notice_days=integer(t.get("notice_days"), "term.notice_days", errors, default=30, maximum=365),
    )


def _guarantee(raw: dict, unit: str, known_types: set[str] | None, errors: Errors) -> Guarantee | None:
    fields = {"outcome_type", "min_attainment", "credit_percent_per_point"}
    g = obj(raw.get("guarantee"), "guarantee", errors, fields)
    if g is None:
        return None
    if unit == "credits":
        errors.add("guarantee", "A guarantee credits outcome charges in money: not in a credits contract.")
    code = g.get("outcome_type")
    if not isinstance(code, str) or not code:
        errors.add("guarantee.outcome_type", "An outcome type code.")
        code = ""
    elif known_types is not None and code not in known_types:
        errors.add("guarantee.outcome_type", f"Unknown outcome type {code!r}.")
    least = dec(g.get("min_attainment"), "guarantee.min_attainment", errors, required=True, places=4)
    if least is not None and not 0 < least <= 1:
        errors.add("guarantee.min_attainment", 'A ratio above 0 and at most 1, such as "0.85" for 85 %.')
    percent = dec(g.get("credit_percent_per_point"), "guarantee.credit_percent_per_point", errors, required=True,
                  places=4, positive=True)  # fmt: skip
    if percent is not None and percent > 100:
        errors.add("guarantee.credit_percent_per_point", "At most 100 (% of the charges per point below).")
    return Guarantee(code, least or Decimal(0), percent or Decimal(0))


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def terms_json(terms: Terms) -> dict:
    """The normalised JSON document of ``terms`` (what is stored and what GET returns)."""
    prices = []
    for p in terms.prices:
        prices.append({"outcome_type": p.outcome_type, "model": p.model, **MODELS[p.model].to_json(p)})
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
        "guarantee": None,
        "notes": terms.notes,
        "payment_terms_days": terms.payment_terms_days,
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
    if (g := terms.guarantee) is not None:
        doc["guarantee"] = {
            "outcome_type": g.outcome_type,
            "min_attainment": _s(g.min_attainment),
            "credit_percent_per_point": _s(g.credit_percent_per_point),
        }
    if (t := terms.term) is not None:
        doc["term"] = {
            "starts": t.starts.isoformat(),
            "months": t.months,
            "renewal": t.renewal,
            "renewal_months": t.renewal_months if t.renewal == "auto" else None,
            "notice_days": t.notice_days,
        }
    if (pr := terms.proration) is not None:
        doc["proration"] = {
            "changed_on": pr.changed_on.isoformat(),
            "days_in_period": pr.days_in_period,
            **{side: {"name": s.name, "days": s.days, "amount": _s(s.amount), "included_outcomes": s.included_outcomes,
                      "included_credits": _s(s.included_credits)}
               for side, s in (("before", pr.before), ("after", pr.after))},
        }  # fmt: skip
    return doc


def terms_load(doc: dict) -> Terms:
    """Terms from a stored (already validated) document."""
    return terms_parse({k: v for k, v in doc.items() if v is not None})
