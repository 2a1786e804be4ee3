"""Forms of the plan pages. A document is typed as JSON (the contract document of
``docs/billing.md``, without ``effective_from``); the services validate it and their field messages
land on the form."""

from __future__ import annotations

import json

from django import forms

from accounts.models import Account
from billing.plans.models import Plan, PlanMember

DOCUMENT = forms.Textarea(attrs={"rows": 16, "class": "document-editor", "spellcheck": "false"})
OVERRIDES = forms.Textarea(attrs={"rows": 4, "class": "document-editor", "spellcheck": "false"})


def _json_object(text: str, *, empty: dict | None = None) -> dict:
    if not text.strip() and empty is not None:
        return empty
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"Not valid JSON: {exc}.") from None
    if not isinstance(value, dict):
        raise forms.ValidationError("A JSON object, { … }.")
    return value


def add_field_errors(form: forms.Form, fields: dict[str, list[str]], *, into: str) -> None:
    """A service's field → messages on the form: its own fields by name, a document's by path."""
    for key, messages in fields.items():
        target = key if key in form.fields else into
        for message in messages:
            form.add_error(target, message if target == key else f"{key}: {message}")


class PlanNewForm(forms.Form):
    code = forms.SlugField(max_length=40, help_text="A short code, such as growth-1000.")
    name = forms.CharField(max_length=120)
    currency = forms.RegexField(regex=r"^[A-Z]{3}\Z", initial="USD", help_text="ISO 4217; its members' currency.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    document = forms.CharField(widget=DOCUMENT, label="Price book (contract document, JSON)")

    def clean_document(self) -> dict:
        return _json_object(self.cleaned_data["document"])


class PlanPublishForm(forms.Form):
    document = forms.CharField(widget=DOCUMENT, label="Price book (contract document, JSON)")
    note = forms.CharField(max_length=200, required=False, help_text="What changed, for the version history.")

    def clean_document(self) -> dict:
        return _json_object(self.cleaned_data["document"])


class PlanAssignForm(forms.Form):
    accounts = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple, label="Accounts to move onto the plan")
    overrides = forms.CharField(
        required=False,
        widget=OVERRIDES,
        help_text='Optional: fields these accounts have their own way, e.g. {"payment_terms_days": 45}.',
    )

    def __init__(self, *args, plan: Plan, **kwargs):
        super().__init__(*args, **kwargs)
        on_plan = PlanMember.objects.filter(plan=plan).values("account_id")
        candidates = Account.objects.filter(currency=plan.currency).exclude(pk__in=on_plan).order_by("name")
        self.candidates = {a.external_id: a for a in candidates}
        self.fields["accounts"].choices = [(a.external_id, a.name) for a in candidates]

    def clean_overrides(self) -> dict:
        return _json_object(self.cleaned_data["overrides"], empty={})

    def chosen(self) -> list[Account]:
        return [self.candidates[e] for e in self.cleaned_data["accounts"]]


class MemberOverridesForm(forms.Form):
    overrides = forms.CharField(required=False, widget=OVERRIDES)

    def clean_overrides(self) -> dict:
        return _json_object(self.cleaned_data["overrides"], empty={})
