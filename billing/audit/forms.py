"""Forms of the audit pages: the audit table's filters (read from the query string)."""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from billing.audit.table import AuditFilters
from billing.labels import label
from billing.ledger.shown import REASONS, STATUS_LABELS
from metering.models import OutcomeType

FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)

# Query-string names, as they appear in bookmarked and shared URLs.
FILTER_PARAMS = ("from", "to", "type", "status", "reason", "channel", "workflow", "verification", "q")


class AuditFilterForm(forms.Form):
    """The audit table's filters. Invalid fields are reported and ignored, never guessed."""

    def __init__(self, data, *, outcome_types: list[OutcomeType], choices: dict[str, list[str]]):
        super().__init__(data)
        self._type_ids = {t.code: t.pk for t in outcome_types}
        date_widget = {"type": "date"}
        # Days whose local start (and the next day's, for "to") any time zone can hold: year 1
        # or 9999 would overflow once the account's offset is applied.
        bounds = [MinValueValidator(FIRST_DAY), MaxValueValidator(LAST_DAY)]
        self.fields["from"] = forms.DateField(
            label="From",
            required=False,
            validators=bounds,
            widget=forms.DateInput(attrs=date_widget, format="%Y-%m-%d"),
        )
        self.fields["to"] = forms.DateField(
            label="To", required=False, validators=bounds, widget=forms.DateInput(attrs=date_widget, format="%Y-%m-%d")
        )
        self.fields["type"] = forms.ChoiceField(
            label="Outcome type",
            required=False,
            choices=[("", "All types")] + [(t.code, t.name) for t in outcome_types],
        )
        self.fields["status"] = forms.ChoiceField(
            label="Status", required=False, choices=[("", "Any status"), *STATUS_LABELS.items()]
        )
        self.fields["reason"] = forms.ChoiceField(
            label="Not-billable reason",
            required=False,
            choices=[("", "Any reason")] + [(code, f"{text} ({code})") for code, text in REASONS.items()],
        )
        # Choices of the values the account has (billing.audit.table.audit_choices), in words; a
        # value from the URL the list lacks is offered too, so a bookmarked link keeps its filter.
        for name, field_label, key, any_text, kind in (
            ("channel", "Channel", "channel", "Any channel", "channel"),
            ("workflow", "Workflow", "workflow", "Any workflow", None),
            ("verification", "Verification", "verification_method", "Any method", "method"),
        ):
            values = list(choices.get(key, []))
            given = (self.data.get(name) or "").strip()
            if given and given not in values and len(given) <= 128:
                values.append(given)
            self.fields[name] = forms.ChoiceField(
                label=field_label,
                required=False,
                choices=[("", any_text)] + [(v, label(v, kind) if kind else v) for v in values],
            )
        self.fields["q"] = forms.CharField(
            label="Event or session ID",
            required=False,
            max_length=128,
            widget=forms.TextInput(attrs={"type": "search", "placeholder": "e.g. evt_10293 or a session ID"}),
        )

    @property
    def values(self) -> dict[str, str]:
        """The submitted value of every filter, as typed (for redisplay)."""
        return {name: self.data.get(name, "") for name in FILTER_PARAMS}

    def clean(self):
        data = super().clean()
        start, end = data.get("from"), data.get("to")
        if start and end and start > end:
            self.add_error("to", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The valid filters (invalid ones are left out and shown as errors)."""
        self.is_valid()
        data = {name: value for name, value in getattr(self, "cleaned_data", {}).items() if name not in self.errors}
        return AuditFilters(
            date_from=data.get("from"),
            date_to=data.get("to"),
            outcome_type_id=self._type_ids.get(data.get("type") or ""),
            status=data.get("status") or "",
            reason=data.get("reason") or "",
            channel=(data.get("channel") or "").strip(),
            workflow=(data.get("workflow") or "").strip(),
            verification_method=(data.get("verification") or "").strip(),
            search=(data.get("q") or "").strip(),
        )
