"""Forms of the catalogue pages: an outcome type, a criteria version, a delivery cost.

The fields only collect what was typed. Each form then builds the body the API would receive
(numbers as numbers, lists as lists, ticked boxes as true or false) and validates it with the
API's own input serializer (:mod:`metering.api`), whose messages land on the form's fields — so
the portal accepts and refuses exactly what ``POST /api/v1/outcome-types``, ``…/criteria`` and
``…/costs`` do, in the same words.
"""

from __future__ import annotations

import re

from django import forms

from metering.api import CriteriaFieldsSerializer, OutcomeCostSerializer, OutcomeTypeInSerializer
from metering.models import OutcomeCost, ReopenPolicy, SuccessCriteria, ValueType
from metering.services import CRITERIA_RULE_FIELDS, CRITERIA_TEXT_FIELDS

_INTEGER = re.compile(r"-?[0-9]+\Z")
_LIST_SEPARATORS = re.compile(r"[,\n]")
LIST_FIELDS = ("required_verification_methods", "excluded_workflows", "excluded_channels")
BOOLEAN_FIELDS = ("one_per_session", "handoff_is_billable", "confirm_closes_window")
TEXTAREA = forms.Textarea(attrs={"rows": 2})


def _list(text: str) -> list[str]:
    """``a, b`` or one item a line: the items, trimmed, empty ones dropped."""
    return [item.strip() for item in _LIST_SEPARATORS.split(text) if item.strip()]


def _list_text(values) -> str:
    return ", ".join(values or ())


def _integer(text: str) -> object:
    """A number as a JSON body would carry it; anything else stays text (the serializer refuses it)."""
    text = text.strip()
    return int(text) if _INTEGER.match(text) else text


class _ApiValidatedForm(forms.Form):
    """A form whose ``clean`` runs the API's serializer over :meth:`api_body`."""

    serializer_class: type = CriteriaFieldsSerializer

    def api_body(self) -> dict:
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        serializer = self.serializer_class(data=self.api_body())
        if serializer.is_valid():
            self.validated = dict(serializer.validated_data)
        else:
            self.add_api_errors(serializer.errors)
        return cleaned

    def add_api_errors(self, errors: dict) -> None:
        """The serializer's errors on the fields they name (a list item's: "“item”: message")."""
        for name, messages in errors.items():
            field = name if name in self.fields else None
            if isinstance(messages, dict):  # {index: [message]} for the items of a list
                body = self.api_body().get(name) or []
                for index, item_messages in messages.items():
                    item = body[int(index)] if int(index) < len(body) else index
                    for message in item_messages:
                        self.add_error(field, f"“{item}”: {message}")
                continue
            for message in messages:
                self.add_error(field, str(message))


class CriteriaFields(forms.Form):
    """The versioned definition of success, as the API's ``CriteriaFieldsSerializer`` takes it."""

    customer_result = forms.CharField(
        required=False, strip=False, label="Customer-recognised result", help_text="e.g. a resolved conversation"
    )
    system_action = forms.CharField(required=False, strip=False, label="System action")
    failure_condition = forms.CharField(required=False, strip=False, label="Failure condition (without…)")
    verification_source = forms.CharField(required=False, strip=False, label="Verified by")
    measurement_window_hours = forms.CharField(
        required=False, label="Measurement window (hours)", widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    one_per_session = forms.BooleanField(required=False, label="At most one billable outcome per session")
    handoff_is_billable = forms.BooleanField(required=False, label="A hand-off to a person still counts")
    confirm_closes_window = forms.BooleanField(required=False, label="A confirmation closes the window early")
    reopen_after_window = forms.CharField(
        required=False, label="A reopen after the window", widget=forms.Select(choices=ReopenPolicy.choices)
    )
    required_verification_methods = forms.CharField(
        required=False,
        label="Accepted verification methods",
        widget=TEXTAREA,
        help_text="Comma-separated or one a line; empty: any method.",
    )
    excluded_workflows = forms.CharField(
        required=False, label="Workflows never charged", widget=TEXTAREA, help_text="Comma-separated or one a line."
    )
    excluded_channels = forms.CharField(
        required=False, label="Channels never charged", widget=TEXTAREA, help_text="Comma-separated or one a line."
    )
    dispute_process = forms.CharField(required=False, strip=False, label="Dispute process", widget=TEXTAREA)

    def criteria_body(self, *, omit_empty: bool) -> dict:
        """The criteria part of the API body. ``omit_empty``: leave out what was left empty (a new
        type: the service's defaults apply), else send every field (a version: all of it is shown)."""
        data = self.cleaned_data
        body: dict = {}
        for name in CRITERIA_TEXT_FIELDS:
            if data.get(name) or not omit_empty:
                body[name] = data.get(name, "")
        window = data.get("measurement_window_hours", "")
        if window.strip() or not omit_empty:
            body["measurement_window_hours"] = _integer(window)
        for name in BOOLEAN_FIELDS:
            body[name] = bool(data.get(name))
        if data.get("reopen_after_window") or not omit_empty:
            body["reopen_after_window"] = data.get("reopen_after_window", "")
        for name in LIST_FIELDS:
            if data.get(name) or not omit_empty:
                body[name] = _list(data.get(name, ""))
        return body


def criteria_initial(criteria: SuccessCriteria | None) -> dict:
    """A form's starting values: the version it starts from (the one in force)."""
    if criteria is None:
        return {"measurement_window_hours": "72", "one_per_session": True}
    initial = {name: getattr(criteria, name) for name in CRITERIA_RULE_FIELDS + CRITERIA_TEXT_FIELDS}
    for name in LIST_FIELDS:
        initial[name] = _list_text(initial[name])
    initial["measurement_window_hours"] = str(initial["measurement_window_hours"])
    return initial


class OutcomeTypeForm(CriteriaFields, _ApiValidatedForm):
    """A new outcome type with version 1 of its product definition (``POST /api/v1/outcome-types``)."""

    serializer_class = OutcomeTypeInSerializer
    field_order = ["code", "name", "unit_price", "value_type", "description"]

    code = forms.CharField(
        required=False, strip=False, label="Code", help_text="Letters, digits, _ and -; never changes."
    )
    name = forms.CharField(required=False, strip=False, label="Name")
    unit_price = forms.CharField(
        required=False,
        label="Unit price",
        help_text="The default price per billable outcome, in the account's currency, where no contract names one.",
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    value_type = forms.CharField(required=False, label="Value type", widget=forms.Select(choices=ValueType.choices))
    description = forms.CharField(required=False, strip=False, label="Description", widget=TEXTAREA)

    def api_body(self) -> dict:
        data = self.cleaned_data
        # What was left empty is left out, as a client leaves out a field ("This field is required.").
        names = ("code", "name", "unit_price", "value_type", "description")
        body = {name: data[name] for name in names if data.get(name)}
        return body | self.criteria_body(omit_empty=True)


class CriteriaVersionForm(CriteriaFields, _ApiValidatedForm):
    """A new version of the product definition, or of one account's override
    (``POST /api/v1/outcome-types/{code}/criteria``; the view resolves the account, as the API does)."""

    serializer_class = CriteriaFieldsSerializer

    def __init__(self, *args, base: dict | None = None, first: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # The latest version of the same definition, if any: a version identical to it is refused.
        self.base = base
        # No version to start from (a type made without one, in the Django admin): what is left
        # empty takes the service's defaults, as on a new type.
        self.first = first

    def api_body(self) -> dict:
        return self.criteria_body(omit_empty=self.first)

    def clean(self):
        cleaned = super().clean()
        validated = getattr(self, "validated", None)
        if validated is not None and self.base is not None and all(self.base.get(k) == v for k, v in validated.items()):
            self.add_error(None, "Nothing changed: this is the version in force. Change a field to publish a new one.")
        return cleaned


class OutcomeCostForm(_ApiValidatedForm):
    """A delivery cost of the type from a date (``POST /api/v1/outcome-types/{code}/costs``)."""

    serializer_class = OutcomeCostSerializer

    complexity = forms.CharField(
        required=False,
        label="Tier",
        widget=forms.Select(choices=[(c, c or "Every tier without its own") for c in OutcomeCost.COMPLEXITIES]),
    )
    amount = forms.CharField(
        required=False, label="Cost per outcome", widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    effective_from = forms.CharField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}), help_text="A local date."
    )

    def api_body(self) -> dict:
        data = self.cleaned_data
        body = {name: data[name] for name in ("amount", "effective_from") if data.get(name)}
        return body | {"complexity": data.get("complexity", "")}
