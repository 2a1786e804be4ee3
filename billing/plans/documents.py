"""A plan's document and a member's overrides, laid one over the other. Pure — no Django.

A plan document is a contract document (:mod:`billing.contracts`) without ``effective_from``: the
date is each member's, the first day of its next period. Terms that belong to one customer's deal
(``onboarding``, ``commitment``, ``price_lock``) have no place in a plan: they are a member's
overrides.

Overrides are a partial contract document, merged by one rule:

* a top-level key replaces the plan's value (``null`` removes it: ``{"platform_fee": null}``);
* ``prices`` is merged by outcome type: an entry replaces the plan's entry for its type, a type the
  plan does not price is added, and the plan's order is kept (added types after it).
"""

from __future__ import annotations

from datetime import date

from billing.contracts import Terms, TermsInvalid, terms_json, terms_parse

ACCOUNT_ONLY = ("onboarding", "commitment", "price_lock", "term")  # one customer's deal: overrides only
_PLACEHOLDER = date(2000, 1, 1)  # a plan document is validated as a contract starting on any day


def document_merged(plan_document: dict, overrides: dict) -> dict:
    """The plan's document with ``overrides`` laid over it (see the module's rule)."""
    merged = {k: v for k, v in plan_document.items() if k != "effective_from"}
    for key, value in overrides.items():
        if key == "prices" and isinstance(value, list) and isinstance(merged.get("prices"), list):
            mine = {p.get("outcome_type"): p for p in value if isinstance(p, dict)}
            prices = [mine.pop(p.get("outcome_type"), p) if isinstance(p, dict) else p for p in merged["prices"]]
            merged["prices"] = prices + [p for p in value if isinstance(p, dict) and p.get("outcome_type") in mine]
        elif value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def plan_document_parse(raw: object, *, known_types: set[str]) -> dict:
    """Validate a plan document (a contract document without ``effective_from`` nor a customer's
    deal) and return it normalised; raise :class:`TermsInvalid` with field → messages."""
    if not isinstance(raw, dict):
        raise TermsInvalid({"non_field_errors": ["A JSON object."]})
    errors = {key: ["One customer's deal, not a plan's: set it in that account's overrides."]
              for key in ACCOUNT_ONLY if raw.get(key) is not None}  # fmt: skip
    if "effective_from" in raw:
        errors["effective_from"] = ["A plan has no date: each account's contract takes effect from its next period."]
    try:
        terms = terms_parse({**raw, "effective_from": _PLACEHOLDER.isoformat()}, known_types=known_types)
    except TermsInvalid as exc:
        raise TermsInvalid({**exc.fields, **errors}) from None
    if errors:
        raise TermsInvalid(errors)
    return {k: v for k, v in terms_json(terms).items() if k != "effective_from"}


def plan_terms(document: dict) -> Terms | None:
    """The terms a plan document (or a plan document with overrides) prices by, to describe it in
    words; None where it does not hold (an override that breaks it is refused when saved)."""
    try:
        return terms_parse({**document, "effective_from": _PLACEHOLDER.isoformat()})
    except TermsInvalid:
        return None


def member_document(plan_document: dict, overrides: dict, *, effective_from: date, known_types: set[str]) -> dict:
    """The contract document of one member from ``effective_from``, validated (overrides may break
    what the plan alone satisfies: fields are named as in the merged document)."""
    if "effective_from" in overrides:
        raise TermsInvalid({"effective_from": ["Set by the plan: the first day of the account's next period."]})
    document = {**document_merged(plan_document, overrides), "effective_from": effective_from.isoformat()}
    return terms_json(terms_parse(document, known_types=known_types))
