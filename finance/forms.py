"""Forms of the finance area."""

from __future__ import annotations

import json

from django import forms

from accounts.models import LifecycleStatus
from billing.labels import label
from billing.whatif.preview import DEFAULT_MONTHS as WHATIF_DEFAULT_MONTHS
from billing.whatif.preview import MAX_MONTHS as WHATIF_MAX_MONTHS
from finance.scenarios import MAX_MONTHS, MIN_MONTHS, SCENARIOS


class LifecycleForm(forms.Form):
    status = forms.ChoiceField(choices=LifecycleStatus.choices)
    effective_on = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Its midnight in the account's time zone.",
    )


class ScenarioForm(forms.Form):
    """The scenarios page's query (GET, so a projection is linkable): the API's body, flattened."""

    account = forms.ChoiceField(required=False, label="Account")
    tier = forms.ChoiceField(required=False, label="Tier")
    industry = forms.ChoiceField(required=False, label="Industry")
    use_case = forms.ChoiceField(required=False, label="Use case")
    scenario = forms.ChoiceField(choices=[(s, s.capitalize()) for s in SCENARIOS], required=False, label="Table shows")
    months = forms.TypedChoiceField(
        choices=[(n, n) for n in range(MIN_MONTHS, MAX_MONTHS + 1)], coerce=int, required=False, label="Months ahead"
    )
    depth_points = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, required=False, label="Dip: depth (points)"
    )
    dip_months = forms.IntegerField(min_value=1, max_value=MAX_MONTHS, required=False, label="Dip: months")
    points_per_month = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, required=False, label="Decline: points a month"
    )
    churn_points_per_month = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, required=False, label="Churn: points a month"
    )
    threshold = forms.DecimalField(
        min_value=0,
        max_value=1,
        decimal_places=4,
        required=False,
        label="Churn: threshold",
        help_text="A ratio, e.g. 0.7000; empty: each account's minimum attainment.",
    )

    def __init__(self, data, *, accounts: list[tuple[str, str]], segments: dict[str, list[str]]):
        super().__init__(data)
        self.fields["account"].choices = [("", "Any account"), *accounts]
        for dim, values in segments.items():
            self.fields[dim].choices = [("", "Any"), *((v, label(v, "segment")) for v in values if v)]

    def scope(self) -> dict[str, str]:
        dims = ("account", "tier", "industry", "use_case")
        return {d: self.cleaned_data[d] for d in dims if self.cleaned_data.get(d)}


class MinAttainmentForm(forms.Form):
    min_attainment = forms.DecimalField(
        min_value=0,
        max_value=1,
        decimal_places=4,
        required=False,
        label="Minimum attainment",
        help_text="The rate (a ratio, e.g. 0.7000) below which the customer is expected to leave; empty: none known.",
    )


class WhatIfForm(forms.Form):
    """The what-if page's query (GET, so a comparison is linkable): an account, how many closed months,
    and the candidate contract document (JSON; empty: the contract in force, as a starting point)."""

    account = forms.ChoiceField(label="Account")
    months = forms.TypedChoiceField(
        choices=[(n, n) for n in range(1, WHATIF_MAX_MONTHS + 1)],
        coerce=int,
        initial=WHATIF_DEFAULT_MONTHS,
        label="Closed months",
    )
    contract = forms.CharField(
        required=False,
        label="Candidate contract",
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "document-editor"}),
        help_text="A contract document in JSON, as PUT /api/v1/accounts/{id}/contract takes it; the date it takes "
        "effect may be left out. Empty: the contract in force, repriced as a check.",
    )

    def __init__(self, data, *, accounts: list[tuple[str, str]]):
        super().__init__(data)
        self.fields["account"].choices = accounts

    def clean_contract(self) -> dict | None:
        text = self.cleaned_data["contract"].strip()
        if not text:
            return None
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}.") from exc
        if not isinstance(document, dict):
            raise forms.ValidationError("A JSON object: the contract document.")
        return document
