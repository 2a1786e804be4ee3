"""Forms of the finance area."""

from __future__ import annotations

from django import forms

from accounts.models import LifecycleStatus
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
            self.fields[dim].choices = [("", "Any"), *((v, v) for v in values if v)]

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
