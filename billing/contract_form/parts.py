"""The contract's own fields (:class:`TermsForm`) and its optional parts: a platform fee, a
commitment, onboarding, a price lock, a guarantee, a term and its renewal — each a small form in the document only while
its "include" box is ticked."""

from __future__ import annotations

from django import forms

from billing.contract_form.fields import (
    as_date,
    as_decimal,
    as_integer,
    as_text,
    compact,
    date_field,
    decimal_field,
    integer_field,
)
from billing.contracts import DEFAULT_PAYMENT_TERMS_DAYS
from billing.pricing.terms import BASES, UNITS

UNIT_LABELS = {"money": "Money", "credits": "Credits"}
BASIS_LABELS = {"per_resolution": "Per resolution", "per_conversation": "Per conversation"}


# --- The contract's own fields ------------------------------------------------------------------


class TermsForm(forms.Form):
    """What every contract has: its start, its unit, its basis, its payment terms, its notes."""

    effective_from = date_field(
        "Effective from", "Governs every whole month from the first one that begins on or after it."
    )
    mid_period = forms.ChoiceField(
        label="A date inside a month",
        choices=[
            ("next_period", "Takes effect from the next month"),
            ("prorate", "Takes effect on that date: this month's fees prorated by days"),
        ],
        initial="next_period",
        required=False,
        help_text="Prorated: this month's outcomes are priced under the new terms; each contract's fee for its days.",
    )
    unit = forms.ChoiceField(
        label="Prices in", choices=[(u, UNIT_LABELS[u]) for u in UNITS], help_text="Money: the account's currency."
    )
    credit_price = decimal_field("Credit price", "Money per credit, the published conversion (credits only).")
    basis = forms.ChoiceField(
        label="Basis",
        choices=[(b, BASIS_LABELS[b]) for b in BASES],
        help_text="Per conversation: unresolved attempts are charged too.",
    )
    monthly_minimum = decimal_field("Monthly minimum", "Outcome charges below it are topped up. Empty: none.")
    payment_terms_days = integer_field("Payment terms (days)", "Net N: due N days after the invoice is issued.")
    notes = forms.CharField(required=False, strip=False, label="Notes", widget=forms.Textarea(attrs={"rows": 2}))

    def document(self) -> dict:
        data = self.cleaned_data
        return compact(
            {
                "effective_from": as_date(data["effective_from"]),
                "unit": data["unit"],
                "credit_price": as_decimal(data["credit_price"]),
                "basis": data["basis"],
                "monthly_minimum": as_decimal(data["monthly_minimum"]),
                "payment_terms_days": as_integer(data["payment_terms_days"]),
                "notes": data["notes"].replace("\r\n", "\n"),  # a browser sends a textarea's lines as CRLF
            }
        )

    @staticmethod
    def initial_of(doc: dict) -> dict:
        return {
            "effective_from": as_text(doc.get("effective_from")),
            "unit": doc.get("unit") or "money",
            "credit_price": as_text(doc.get("credit_price")),
            "basis": doc.get("basis") or "per_resolution",
            "monthly_minimum": as_text(doc.get("monthly_minimum")),
            "payment_terms_days": as_text(doc.get("payment_terms_days", DEFAULT_PAYMENT_TERMS_DAYS)),
            "notes": doc.get("notes") or "",
        }


# --- The optional parts: each a small form with an "include" box ------------------------------------


class SectionForm(forms.Form):
    """An optional object of the document (``key``): in it only when ``include`` is ticked."""

    key = ""
    title = ""
    include_label = ""
    include = forms.BooleanField(required=False, widget=forms.CheckboxInput(attrs={"data-part-include": ""}))

    def __init__(self, *args, types: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, prefix=self.key, **kwargs)
        self.fields["include"].label = self.include_label

    @property
    def included(self) -> bool:
        return bool(self.cleaned_data.get("include"))

    def document(self) -> dict:
        raise NotImplementedError

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        raise NotImplementedError


class PlatformFeeForm(SectionForm):
    key = "platform_fee"
    title = "Platform fee"
    include_label = "A monthly platform fee, with outcomes or credits included"
    name = forms.CharField(required=False, label="Name on the invoice", help_text="Empty: “Platform fee”.")
    amount = decimal_field("Amount a month")
    included_outcomes = integer_field("Included outcomes a month", "Money contracts.")
    included_credits = decimal_field("Included credits a month", "Credits contracts.")
    included_types = forms.MultipleChoiceField(
        required=False,
        label="Outcome types the included outcomes cover",
        help_text="None ticked: every type.",
        widget=forms.CheckboxSelectMultiple,
    )
    rollover = forms.BooleanField(
        required=False, label="Unused included credits roll over while the account is active (else they expire)"
    )

    def __init__(self, *args, types: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["included_types"].choices = list(types)

    def document(self) -> dict:
        data = self.cleaned_data
        return compact(
            {
                "name": data["name"] or None,
                "amount": as_decimal(data["amount"]),
                "included_outcomes": as_integer(data["included_outcomes"]),
                "included_types": list(data["included_types"]),
                "included_credits": as_decimal(data["included_credits"]),
                "rollover": data["rollover"],
            }
        )

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        part = part or {}
        return {
            "include": bool(part),
            "name": part.get("name") or "",
            "amount": as_text(part.get("amount")),
            "included_outcomes": as_text(part.get("included_outcomes")),
            "included_credits": as_text(part.get("included_credits")),
            "included_types": list(part.get("included_types") or ()),
            "rollover": bool(part.get("rollover")),
        }


class CommitmentForm(SectionForm):
    key = "commitment"
    title = "Commitment"
    include_label = "A committed spend over a term"
    amount = decimal_field("Committed spend over the term")
    start = forms.CharField(
        required=False, label="First month", widget=forms.DateInput(attrs={"type": "month", "placeholder": "YYYY-MM"})
    )
    months = integer_field("Months", "Empty: 12.")
    prepaid = forms.TypedChoiceField(
        required=False,
        label="Billed",
        coerce=lambda v: v == "prepaid",
        empty_value=False,
        choices=[
            ("arrears", "In arrears, a true-up at the end of the term for any shortfall"),
            ("prepaid", "Prepaid: invoiced up front, drawn down by outcomes"),
        ],
    )

    def document(self) -> dict:
        data = self.cleaned_data
        return compact(
            {
                "amount": as_decimal(data["amount"]),
                "start": data["start"] or None,
                "months": as_integer(data["months"]),
                "prepaid": data["prepaid"],
            }
        )

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        part = part or {}
        return {
            "include": bool(part),
            "amount": as_text(part.get("amount")),
            "start": part.get("start") or "",
            "months": as_text(part.get("months")),
            "prepaid": "prepaid" if part.get("prepaid") else "arrears",
        }


class OnboardingForm(SectionForm):
    key = "onboarding"
    title = "Onboarding"
    include_label = "Onboarding: a free training window, a free pilot, an implementation fee"
    starts = date_field("Starts", "Empty: the contract's effective date.")
    training_days = integer_field("Free training days", "Outcomes in them are not charged.")
    pilot_free_outcomes = integer_field("Free pilot outcomes", "The first N outcomes are not charged.")
    implementation_fee = decimal_field("Implementation fee", "Billed once, in the month it starts.")

    def document(self) -> dict:
        data = self.cleaned_data
        return compact(
            {
                "starts": as_date(data["starts"]),
                "training_days": as_integer(data["training_days"]),
                "pilot_free_outcomes": as_integer(data["pilot_free_outcomes"]),
                "implementation_fee": as_decimal(data["implementation_fee"]),
            }
        )

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        part = part or {}
        return {"include": bool(part)} | {
            name: as_text(part.get(name)) for name in ("starts", "training_days", "pilot_free_outcomes",
                                                     "implementation_fee")
        }  # fmt: skip


class PriceLockForm(SectionForm):
    key = "price_lock"
    title = "Price lock"
    include_label = "A price lock: outcome charges never above the previous plan's cost, for a while"
    starts = date_field("Starts", "Empty: the contract's effective date.")
    days = integer_field("Days", "Empty: 90.")
    previous_plan_cost = decimal_field("Previous plan's monthly cost", "Outcome charges above it come off.")

    def document(self) -> dict:
        data = self.cleaned_data
        return compact(
            {
                "starts": as_date(data["starts"]),
                "days": as_integer(data["days"]),
                "previous_plan_cost": as_decimal(data["previous_plan_cost"]),
            }
        )

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        part = part or {}
        return {"include": bool(part)} | {name: as_text(part.get(name)) for name in ("starts", "days",
                                                                                 "previous_plan_cost")}  # fmt: skip


class GuaranteeForm(SectionForm):
    key = "guarantee"
    title = "Outcome guarantee"
    include_label = "A minimum attainment for one outcome type, with a credit when a month falls short"
    outcome_type = forms.ChoiceField(required=False, label="Outcome type")
    min_attainment = decimal_field("Minimum attainment", "A ratio: 0.85 guarantees 85 %.")
    credit_percent_per_point = decimal_field("Credit per point below (%)", "Of the type's charges, per point.")

    def __init__(self, *args, types: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome_type"].choices = [("", "—"), *types]

    def document(self) -> dict:
        data = self.cleaned_data
        return compact(
            {
                "outcome_type": data["outcome_type"],
                "min_attainment": as_decimal(data["min_attainment"]),
                "credit_percent_per_point": as_decimal(data["credit_percent_per_point"]),
            }
        )

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        part = part or {}
        return {"include": bool(part)} | {
            name: as_text(part.get(name)) for name in ("outcome_type", "min_attainment", "credit_percent_per_point")
        }


class TermForm(SectionForm):
    key = "term"
    title = "Term and renewal"
    include_label = "A fixed term, with its end and renewal"
    starts = date_field("First term starts", "The day the contract was signed to start.")
    months = integer_field("Length (months)", "Empty: 12.")
    renewal = forms.ChoiceField(
        required=False,
        label="At the end",
        choices=[("auto", "Renews automatically unless notice is given"), ("none", "Ends, no renewal")],
    )
    renewal_months = integer_field("Renewal length (months)", "Empty: the first term's length.")
    notice_days = integer_field("Notice (days before the end)", "Empty: 30.")

    def document(self) -> dict:
        data = self.cleaned_data
        renews = data["renewal"] != "none"
        return compact(
            {
                "starts": as_date(data["starts"]),
                "months": as_integer(data["months"]),
                "renewal": "auto" if renews else "none",
                "renewal_months": as_integer(data["renewal_months"]) if renews else None,
                "notice_days": as_integer(data["notice_days"]),
            }
        )

    @classmethod
    def initial_of(cls, part: dict | None) -> dict:
        part = part or {}
        return {"include": bool(part), "renewal": part.get("renewal") or "auto"} | {
            name: as_text(part.get(name)) for name in ("starts", "months", "renewal_months", "notice_days")
        }


SECTIONS: tuple[type[SectionForm], ...] = (PlatformFeeForm, CommitmentForm, OnboardingForm, PriceLockForm,
                                           GuaranteeForm, TermForm)  # fmt: skip
