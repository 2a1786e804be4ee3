"""The event page's deduction panel: a vendor operator deducts an outcome after its window (the customer
came back), or reads the deduction already made (billing.invoices.corrections.outcome_deduct)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.access import Perm
from accounts.models import Account
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal
from billing.audit.panels import Panel
from billing.invoices.corrections import CorrectionRefused, deductible, outcome_deduct
from billing.ledger.models import Deduction
from metering.selectors import event_get_for_principal


class DeductionForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What happened: the customer reads it on the credit note.",
    )
    reported_at = forms.DateTimeField(
        label="Customer came back at",
        input_formats=["%Y-%m-%dT%H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="In the account's time zone.",
    )

    def __init__(self, *args, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = ZoneInfo(zone)
        self.fields["reported_at"].help_text = f"In the account's time zone ({zone})."

    def clean_reported_at(self) -> datetime:
        value = self.cleaned_data["reported_at"]
        return value.replace(tzinfo=self.zone) if timezone.is_naive(value) else value


def deduction_of(event) -> Deduction | None:
    """The event's deduction, with its credit note (one query; the page's card and timeline share it)."""
    return Deduction.objects.filter(event_id=event.pk).select_related("credit_note").first()


def event_deduction_panel(*, principal, account: Account, event, deduction: Deduction | None) -> Panel | None:
    """The deduction made (:func:`deduction_of`), for everyone who sees the event; the form, for who may
    deduct (``invoices.correct``) an outcome the service would take."""
    if deduction is not None:
        return Panel("billing/_event_deduction.html", {"deduction": deduction, "account": account})
    if not principal.can(Perm.INVOICES_CORRECT) or not deductible(getattr(event, "charge", None)):
        return None
    form = DeductionForm(zone=account.timezone)
    action = reverse("audit:event_deduct", args=[account.external_id, event.event_id])
    return Panel("billing/_event_deduction.html", {"form": form, "action": action, "account": account})


@login_required
@require_POST
def event_deduct(request, account: str, event_id: str):
    """Deduct the outcome (vendor operators); back to the event page with what it did."""
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.INVOICES_CORRECT):
        raise PermissionDenied
    account = account_get_for_principal(principal=principal, external_id=account)
    event = event_get_for_principal(principal=principal, account_external_id=account.external_id, event_id=event_id)
    page = reverse("audit:event_detail", args=[account.external_id, event.event_id])
    form = DeductionForm(request.POST, zone=account.timezone)
    if not form.is_valid():
        messages.error(request, "The deduction was not made: " + "; ".join(
            f"{form.fields[name].label or name}: {' '.join(errors)}" for name, errors in form.errors.items()
        ))  # fmt: skip
        return redirect(page + "#invoice-title")
    try:
        deduction, created = outcome_deduct(
            event=event, reason=form.cleaned_data["reason"], reported_at=form.cleaned_data["reported_at"],
            by=principal.label,
        )  # fmt: skip
    except CorrectionRefused as exc:
        messages.error(request, f"The deduction was not made: {exc}")
        return redirect(page + "#invoice-title")
    if created:
        messages.success(request, f"Deducted: {deduction.get_how_display().lower()}.")
    else:
        messages.info(request, "This outcome was deducted already.")
    return redirect(page + "#invoice-title")
