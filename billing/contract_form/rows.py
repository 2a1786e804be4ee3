"""A price row: an outcome type, its pricing model, and that model's fields — one small class per
model (``ROW_MODELS``), the form's side of :mod:`billing.pricing.models`."""

from __future__ import annotations

import re

from django import forms

from billing.contract_form.fields import as_decimal, as_integer, as_text, compact, decimal_field, integer_field
from billing.contracts import COMPLEXITIES

BAND_ROWS = 5  # band rows shown per price row; one more than a longer document's bands
MAX_BAND_ROWS = 100  # what a submitted form may ask for (each row is two fields)


# --- A price row: an outcome type, its model, and that model's fields --------------------------------


class RowModel:
    """One pricing model's fields on a price row (the form's side of ``billing/pricing/models/<code>.py``)."""

    code = ""
    label = ""
    fields: tuple[str, ...] = ()  # the row form's fields this model reads

    def document(self, row: PriceRowForm) -> dict:
        """The model's keys of the price, from the row's cleaned data."""
        return compact({name: as_decimal(row.cleaned_data[name]) for name in self.fields})

    def initial(self, price: dict) -> dict:
        return {name: as_text(price.get(name)) for name in self.fields}

    def field(self, row: PriceRowForm, path: str) -> str | None:
        """The row's field that holds a price's ``path`` (after ``prices.<i>.``); None: the row itself."""
        return path if path in self.fields else None


class UnitRow(RowModel):
    code, label, fields = "unit", "Unit price", ("price",)


class ComplexityRow(RowModel):
    code, label = "complexity", "Complexity tiers"
    fields = (*(f"tier_{c}" for c in COMPLEXITIES), "default_tier")

    def document(self, row: PriceRowForm) -> dict:
        data = row.cleaned_data
        return {"tiers": {c: as_decimal(data[f"tier_{c}"]) for c in COMPLEXITIES}, "default_tier": data["default_tier"]}

    def initial(self, price: dict) -> dict:
        tiers = price.get("tiers") or {}
        return {f"tier_{c}": as_text(tiers.get(c)) for c in COMPLEXITIES} | {
            "default_tier": price.get("default_tier") or "simple"
        }

    def field(self, row: PriceRowForm, path: str) -> str | None:
        head, _, tier = path.partition(".")
        if head == "tiers":
            return f"tier_{tier}" if tier in COMPLEXITIES else None
        return "default_tier" if head == "default_tier" else None


class BandedRow(RowModel):
    """Graduated and volume: the band rows filled in, in order; the last one's "up to" left empty."""

    def document(self, row: PriceRowForm) -> dict:
        bands = []
        row.band_rows = []  # document band j → the form's band row
        for j in range(row.band_count):
            up_to, price = row.cleaned_data[f"band{j}_up_to"], row.cleaned_data[f"band{j}_price"]
            if up_to or price:
                row.band_rows.append(j)
                bands.append({"up_to": as_integer(up_to), "price": as_decimal(price)})
        return {"bands": bands}

    def initial(self, price: dict) -> dict:
        initial = {}
        for j, band in enumerate(price.get("bands") or ()):
            initial[f"band{j}_up_to"] = as_text(band.get("up_to"))
            initial[f"band{j}_price"] = as_text(band.get("price"))
        return initial

    def field(self, row: PriceRowForm, path: str) -> str | None:
        parts = path.split(".")
        if parts[0] != "bands" or len(parts) < 2 or not parts[1].isdigit() or int(parts[1]) >= len(row.band_rows):
            return None
        name = parts[2] if len(parts) > 2 and parts[2] in ("up_to", "price") else "up_to"
        return f"band{row.band_rows[int(parts[1])]}_{name}"


class GraduatedRow(BandedRow):
    code, label = "graduated", "Graduated bands"


class VolumeRow(BandedRow):
    code, label = "volume", "Volume bands"


class HelpdeskRow(RowModel):
    code, label, fields = "helpdesk", "Helpdesk fees", ("item_fee", "automation_fee")


class GainShareRow(RowModel):
    code, label, fields = "gain_share", "Gain-share", ("percent", "baseline")


ROW_MODELS: dict[str, RowModel] = {
    m.code: m for m in (UnitRow(), ComplexityRow(), GraduatedRow(), VolumeRow(), HelpdeskRow(), GainShareRow())
}


class PriceRowForm(forms.Form):
    """One entry of ``prices``. Every model's fields are on the row (the page's script shows only the
    chosen model's); the document takes the chosen model's alone."""

    outcome_type = forms.ChoiceField(required=False, label="Outcome type")
    model = forms.ChoiceField(
        label="Priced by",
        initial="unit",
        choices=[(code, m.label) for code, m in ROW_MODELS.items()],
        widget=forms.Select(attrs={"data-model-select": ""}),  # the page's script shows the model's fields
    )
    price = decimal_field("Price per outcome", "Money or credits, as the contract's unit.")
    tier_simple = decimal_field("Simple")
    tier_moderate = decimal_field("Moderate")
    tier_complex = decimal_field("Complex")
    default_tier = forms.ChoiceField(
        label="An event that reports no complexity counts as",
        initial="simple",
        choices=[(c, c) for c in COMPLEXITIES],
    )
    item_fee = decimal_field("Ticket fee", "On every ticket, resolved or not.")
    automation_fee = decimal_field("Automation fee", "Only when the AI fully resolves it.")
    percent = decimal_field("Percent of the value above the baseline")
    baseline = decimal_field("Baseline per outcome", "Empty: 0.")

    def __init__(self, *args, types: list[tuple[str, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome_type"].choices = [("", "—"), *types]
        # Bound: the rows submitted; else the document's bands and one empty row to add one more.
        self.band_count = max(BAND_ROWS, self._bands_given() + (0 if self.is_bound else 1))
        self.band_rows: list[int] = []
        for j in range(self.band_count):
            self.fields[f"band{j}_up_to"] = integer_field(f"Band {j + 1}: up to (outcomes a month)")
            self.fields[f"band{j}_price"] = decimal_field(f"Band {j + 1}: price")

    def _bands_given(self) -> int:
        """How many band rows the initial values or the submitted data hold."""
        keys = {k.removeprefix(f"{self.prefix}-") for k in self.data} if self.is_bound else set(self.initial)
        rows = [int(m.group(1)) + 1 for k in keys if (m := re.fullmatch(r"band([0-9]+)_(?:up_to|price)", k))]
        return min(max(rows, default=0), MAX_BAND_ROWS)

    def bands(self) -> list[tuple[forms.BoundField, forms.BoundField]]:
        return [(self[f"band{j}_up_to"], self[f"band{j}_price"]) for j in range(self.band_count)]

    def row_model(self) -> RowModel:
        return ROW_MODELS[self.cleaned_data.get("model") or "unit"]

    def document(self) -> dict:
        model = self.row_model()
        return {"outcome_type": self.cleaned_data["outcome_type"], "model": model.code, **model.document(self)}

    @staticmethod
    def initial_of(price: dict) -> dict:
        model = ROW_MODELS.get(price.get("model") or "unit", ROW_MODELS["unit"])
        return {"outcome_type": price.get("outcome_type") or "", "model": model.code, **model.initial(price)}
