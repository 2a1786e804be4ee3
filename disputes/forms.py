"""Forms of the dispute pages. They only shape input; the services decide what is allowed."""

from __future__ import annotations

from django import forms

from disputes.models import DisputeStatus, ReasonCode
from disputes.services import MAX_TEXT


class _Form(forms.Form):
    """Labels without a trailing colon, as on the rest of the portal."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class FileForm(_Form):
    reason_code = forms.ChoiceField(label="Why is this charge wrong?", choices=ReasonCode.choices)
    message = forms.CharField(
        label="Tell support what happened",
        max_length=MAX_TEXT,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "e.g. The customer wrote back the next day: not solved."}
        ),
    )


class ResolveForm(_Form):
    decision = forms.ChoiceField(
        choices=[
            (DisputeStatus.APPROVED, "Approve — credit every event"),
            (DisputeStatus.PARTIALLY_APPROVED, "Partially approve — credit the ticked events"),
            (DisputeStatus.REJECTED, "Reject — the charges stand"),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note to the customer",
        required=False,
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="The customer sees this. Required to reject or partially approve.",
    )


class CommentForm(_Form):
    body = forms.CharField(label="Message", max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 3}))
    internal = forms.BooleanField(label="Internal note (never shown to the customer)", required=False)


QUEUE_STATUSES = [("open", "Open"), ("resolved", "Resolved"), ("all", "All")]


class QueueFilterForm(_Form):
    status = forms.ChoiceField(choices=QUEUE_STATUSES, required=False)
    account = forms.ChoiceField(required=False)
    assignee = forms.ChoiceField(required=False)
    reason_code = forms.ChoiceField(label="Reason", choices=[("", "Any reason"), *ReasonCode.choices], required=False)
    at_risk = forms.BooleanField(label="SLA at risk or breached only", required=False)

    def __init__(self, data, *, accounts, staff):
        super().__init__(data)
        self.fields["account"].choices = [("", "All accounts"), *((a.external_id, a.name) for a in accounts)]
        self.fields["assignee"].choices = [
            ("", "Anyone"),
            ("me", "Me"),
            ("none", "Unassigned"),
            *((str(u.pk), u.get_full_name() or u.username) for u in staff),
        ]
