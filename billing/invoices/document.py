"""The invoice as a document: who sells, who buys, the tax, the due date. Pure — no Django.

What an invoice says beyond its lines is decided here, from plain values the services hand in
(the seller's settings, the account's billing details, the operators' tax rules, the contract's
payment terms), so the page, the PDF, the email and the API print the same thing.

Tax: one rate per invoice, applied to its total (subtotal − credits applied) and rounded once to
the currency's minor unit (:func:`outcomeportal.core.money.round_line`). The account's own rule
wins over its country's; with neither the rate is 0 and nothing is said. A zero rate marked
reverse charge prints the reverse-charge note.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from outcomeportal.core.money import ZERO, round_line

REVERSE_CHARGE_NOTE = (
    "Reverse charge: no {name} is charged on this invoice; the customer accounts for it "
    "(Article 196, Council Directive 2006/112/EC)."
)


@dataclass(frozen=True)
class Party:
    """A seller or a buyer as printed on an invoice."""

    name: str
    address: tuple[str, ...] = ()  # lines
    country: str = ""  # ISO 3166-1 alpha-2
    tax_id: str = ""
    emails: tuple[str, ...] = ()  # the buyer's billing emails; the seller's contact
    payment_instructions: str = ""  # the seller's: how to pay

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "address": "\n".join(self.address),
            "country": self.country,
            "tax_id": self.tax_id,
            "emails": list(self.emails),
            "payment_instructions": self.payment_instructions,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Party:
        return cls(
            name=data.get("name", ""),
            address=address_lines(data.get("address", "")),
            country=data.get("country", ""),
            tax_id=data.get("tax_id", ""),
            emails=tuple(data.get("emails") or ()),
            payment_instructions=data.get("payment_instructions", ""),
        )


def address_lines(text: str) -> tuple[str, ...]:
    """An address typed on several lines, or on one with "|" or a literal "\\n" between lines."""
    parts = re.split(r"\r?\n|\\n|\|", text or "")
    return tuple(p.strip() for p in parts if p.strip())


@dataclass(frozen=True)
class TaxRule:
    """An operator's rule (billing.invoices.models.TaxRate) as the pure core reads it."""

    rate: Decimal  # percent
    name: str = "VAT"
    reverse_charge: bool = False
    note: str = ""


@dataclass(frozen=True)
class Tax:
    rate: Decimal  # percent
    amount: Decimal  # rounded once to the currency
    note: str  # printed under the totals; "" when there is nothing to say
    name: str = "Tax"


def tax_rule_choose(*, account_rule: TaxRule | None, country_rule: TaxRule | None) -> TaxRule | None:
    return account_rule if account_rule is not None else country_rule


def tax_apply(*, net: Decimal, currency: str, rule: TaxRule | None) -> Tax:
    """The tax on ``net`` (the invoice's total before tax) under ``rule``."""
    if rule is None:
        return Tax(rate=ZERO, amount=round_line(ZERO, currency), note="")
    amount = round_line(net * rule.rate / 100, currency)
    note = rule.note
    if rule.reverse_charge and not note:
        note = REVERSE_CHARGE_NOTE.format(name=rule.name)
    return Tax(rate=rule.rate, amount=amount, note=note, name=rule.name)


def due_at(*, issued_at: datetime, payment_terms_days: int) -> datetime:
    """Net N: due N whole days after the issue instant."""
    return issued_at + timedelta(days=payment_terms_days)


def rate_str(rate: Decimal) -> str:
    """A percentage as people read it: "20", "7.5", "0"."""
    text = f"{rate.normalize():f}"
    return text


@dataclass(frozen=True)
class Amounts:
    """Every total an invoice prints, from its stored figures (one money truth: its lines)."""

    subtotal: Decimal
    credits_applied: Decimal
    total: Decimal  # before tax: subtotal − credits applied
    tax_amount: Decimal
    total_with_tax: Decimal
    amount_paid: Decimal
    amount_due: Decimal


def amounts_of(
    *, subtotal: Decimal, credits_applied: Decimal, total: Decimal, tax_amount: Decimal, amount_paid: Decimal,
    void: bool,
) -> Amounts:  # fmt: skip
    gross = total + tax_amount
    due = ZERO if void else max(gross - amount_paid, ZERO)
    return Amounts(subtotal, credits_applied, total, tax_amount, gross, amount_paid, due)


def invoice_is_overdue(invoice, *, now: datetime) -> bool:
    """Open, past its due date, and something still to pay."""
    return (
        invoice.payment_status == "open" and invoice.due_at is not None and invoice.due_at <= now
        and invoice.amount_due > ZERO
    )  # fmt: skip
