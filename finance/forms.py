"""Forms of the finance area."""

from __future__ import annotations

from django import forms

from accounts.models import LifecycleStatus


class LifecycleForm(forms.Form):
    status = forms.ChoiceField(choices=LifecycleStatus.choices)
    effective_on = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Its midnight in the account's time zone.",
    )
