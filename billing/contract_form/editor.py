"""The editor: the contract's forms together, the document they make, and the document's errors
back on the fields that hold them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from django import forms

from billing.contract_form.parts import SECTIONS, SectionForm, TermsForm
from billing.contract_form.rows import PriceRowForm
from billing.contracts import DEFAULT_PAYMENT_TERMS_DAYS, Terms, TermsInvalid, terms_json, terms_parse
from metering.models import OutcomeType

EXTRA_PRICE_ROWS = 2  # empty price rows offered below the contract's (without JavaScript too)


# --- The editor: the forms together, the document, the errors back on the fields ---------------------


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The outcome types a contract may name: every code (validation) and the ones offered (choices)."""

    known: frozenset[str]
    choices: tuple[tuple[str, str], ...]

    @classmethod
    def load(cls, *, document: dict | None = None) -> Catalogue:
        """Active types, and any type the document already prices (an inactive one stays choosable)."""
        rows = list(OutcomeType.objects.order_by("code").values_list("code", "name", "active"))
        named = _codes_in(document) if isinstance(document, dict) else set()
        choices = tuple(
            (code, name if active else f"{name} (inactive)") for code, name, active in rows if active or code in named
        )
        return cls(frozenset(code for code, _, _ in rows), choices)


def _codes_in(doc: dict) -> set[str]:
    """The outcome type codes a document names (any shape: a pasted one is not validated yet)."""

    def part(key: str) -> dict:
        value = doc.get(key)
        return value if isinstance(value, dict) else {}

    prices = doc.get("prices") if isinstance(doc.get("prices"), list) else []
    codes = [p.get("outcome_type") for p in prices if isinstance(p, dict)]
    included = part("platform_fee").get("included_types")
    codes += included if isinstance(included, list) else []
    codes.append(part("guarantee").get("outcome_type"))
    return {c for c in codes if isinstance(c, str)}


def blank_document(*, today: date) -> dict:
    """A first contract's starting point: in money, per resolution, from today, no prices yet."""
    return {"effective_from": today.isoformat(), "unit": "money", "basis": "per_resolution", "prices": [],
            "payment_terms_days": DEFAULT_PAYMENT_TERMS_DAYS}  # fmt: skip


class ContractEditor:
    """The contract form: :class:`TermsForm`, the price rows (a formset) and the optional parts.

    ``document`` is the starting point (a stored version's normalised document); ``data`` the
    submitted form. :meth:`is_valid` builds the document and validates it; then ``document`` is
    what would be stored (``terms_json`` of ``terms``), else the errors are on the fields and in
    :attr:`messages` ((where, message) pairs, for the preview).
    """

    def __init__(self, data=None, *, document: dict | None = None, catalogue: Catalogue | None = None):
        start = document or {}
        self.catalogue = catalogue or Catalogue.load(document=start)
        types = list(self.catalogue.choices)
        self.main = TermsForm(data, initial=TermsForm.initial_of(start))
        prices = [p for p in start.get("prices") or () if isinstance(p, dict)]
        rows = forms.formset_factory(PriceRowForm, extra=EXTRA_PRICE_ROWS, can_delete=True)
        self.prices = rows(data, prefix="prices", initial=[PriceRowForm.initial_of(p) for p in prices],
                           form_kwargs={"types": types})  # fmt: skip
        self.sections = [
            section(data, initial=section.initial_of(start.get(section.key)), types=types) for section in SECTIONS
        ]
        self.document: dict | None = None
        self.terms: Terms | None = None
        self.messages: list[tuple[str, str]] = []
        self._rows: list[PriceRowForm] = []  # the rows in the document, in its order

    @property
    def sections_by_key(self) -> dict[str, SectionForm]:
        return {s.key: s for s in self.sections}

    def is_valid(self) -> bool:
        forms_valid = [f.is_valid() for f in (self.main, self.prices, *self.sections)]
        if not all(forms_valid):
            self._collect_form_errors()
            return False
        doc = self.main.document()
        kept = self.prices.initial_form_count()  # the document's rows; an empty row added counts once filled
        self._rows = [
            row
            for i, row in enumerate(self.prices.forms)
            if (i < kept or row.has_changed()) and not row.cleaned_data.get("DELETE")
        ]
        doc["prices"] = [row.document() for row in self._rows]
        for section in self.sections:
            if section.included:
                doc[section.key] = section.document()
        try:
            self.terms = terms_parse(doc, known_types=set(self.catalogue.known))
        except TermsInvalid as invalid:
            self.add_terms_errors(invalid.fields)
            return False
        self.document = terms_json(self.terms)
        return True

    @property
    def change(self) -> dict:
        """What saving writes (billing.contract_changes): the document, and how a date inside a month
        takes effect when the operator chose "prorated"."""
        prorate = self.main.cleaned_data.get("mid_period") == "prorate"
        return {**self.document, "mid_period": "prorate"} if prorate else self.document

    def add_terms_errors(self, fields: dict[str, list[str]]) -> None:
        """Each of :class:`TermsInvalid`'s field paths on the field that holds it."""
        sections = self.sections_by_key
        for path, messages in fields.items():
            head, _, rest = path.partition(".")
            if head == "prices" and rest:
                index, _, sub = rest.partition(".")
                row = self._rows[int(index)] if index.isdigit() and int(index) < len(self._rows) else None
                if row is not None:
                    name = self._row_field(row, sub)
                    where = f"Price {self.prices.forms.index(row) + 1}"
                    self._add(row, name, messages, where)
                    continue
            if head in sections:
                section = sections[head]
                name = rest if rest in section.fields else "include"
                self._add(section, name, messages, section.title)
            elif head in self.main.fields:
                self._add(self.main, head, messages, "Contract")
            else:
                self._add(self.main, None, [f"{path}: {m}" for m in messages], "Contract")

    @staticmethod
    def _row_field(row: PriceRowForm, sub: str) -> str | None:
        if sub in ("outcome_type", "model"):
            return sub
        return row.row_model().field(row, sub) if sub else None

    def _add(self, form: forms.Form, name: str | None, messages: list[str], where: str) -> None:
        for message in messages:
            form.add_error(name, message)
            label = form.fields[name].label if name else ""
            self.messages.append((f"{where} · {label}" if label else where, message))

    def _collect_form_errors(self) -> None:
        """Errors of the forms themselves (a choice not offered, a management form tampered with)."""
        named = [(self.main, "Contract")] + [(s, s.title) for s in self.sections]
        named += [(row, f"Price {i + 1}") for i, row in enumerate(self.prices.forms)]
        for form, where in named:
            for name, errors in form.errors.items():
                label = form.fields[name].label if name in form.fields else ""
                self.messages += [(f"{where} · {label}" if label else where, str(e)) for e in errors]
        self.messages += [("Prices", str(e)) for e in self.prices.non_form_errors()]


def json_document(text: str) -> object:
    """The Advanced path: a pasted JSON document (raises :class:`TermsInvalid` on ``document``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise TermsInvalid({"document": [f"Not valid JSON: {exc}"]}) from exc


def pasted_document(text: str) -> dict:
    """A pasted document, validated as a version is and normalised: the form's new starting point."""
    document = json_document(text)
    return terms_json(terms_parse(document, known_types=set(Catalogue.load(document=document).known)))
