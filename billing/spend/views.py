"""The spend page: usage against the cap, forecast, controls, alerts, webhooks, notifications.

Everyone of the account may look; only finance admins (and the vendor) may change the
controls or the webhook endpoints — the POST handlers check it again below the template.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import Perm
from accounts.models import Account, WebhookDelivery, WebhookEndpoint
from accounts.notify import InvalidWebhookUrl, notifications_for, webhook_endpoint_create
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal
from billing import caps
from billing.credits.services import (
    CreditsRefused,
    credit_ledger,
    credit_summary,
    ledger_cursor_decode,
    ledger_cursor_encode,
    topup_buy,
)
from billing.models import SpendAlert, SpendControl, SpendControlChange
from billing.spend.changes import control_changes
from billing.spend.services import account_spend_status, forecast_day, month_end_projection, spend_controls_set
from outcomeportal.core.money import minor_units, money_display
from outcomeportal.core.numbers import INTEGER_MAX, DecimalRefused, decimal_parse
from outcomeportal.core.periods import period_days


class SpendControlsForm(forms.Form):
    monthly_cap = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=16,  # below 10^12, as over the API
        decimal_places=4,
        label="Monthly cap (money)",
        help_text="Leave empty for no money cap.",
    )
    monthly_cap_outcomes = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=INTEGER_MAX,  # what the column holds
        label="Monthly cap (outcomes)",
        help_text="Leave empty for no outcome cap.",
    )
    alert_thresholds = forms.CharField(
        initial="50, 80, 100",
        label="Alert thresholds (% of the cap)",
        help_text="Comma-separated whole percentages from 1 to 100, each once.",
    )
    at_cap = forms.ChoiceField(choices=SpendControl.AtCap.choices, widget=forms.RadioSelect, label="At the cap")

    def __init__(self, *args, currency: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_monthly_cap(self):
        value = self.cleaned_data["monthly_cap"]
        if value is not None and value.as_tuple().exponent < -minor_units(self.currency):
            raise forms.ValidationError(f"At most {minor_units(self.currency)} decimal places for {self.currency}.")
        return value

    def clean_alert_thresholds(self) -> list[int]:
        raw = [part.strip() for part in self.cleaned_data["alert_thresholds"].split(",") if part.strip()]
        try:
            values = [int(part) for part in raw]
        except ValueError:
            raise forms.ValidationError("Whole percentages only, e.g. 50, 80, 100.")
        if any(not 1 <= v <= 100 for v in values):
            raise forms.ValidationError("Each threshold is between 1 and 100.")
        if len(set(values)) != len(values):
            raise forms.ValidationError("Each threshold may appear once.")
        return sorted(values)


class WebhookForm(forms.Form):
    url = forms.URLField(max_length=2048, label="Endpoint URL", assume_scheme="https")


def _account(request, external_id: str) -> tuple:
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.EVENTS_READ):
        raise PermissionDenied
    return principal, account_get_for_principal(principal=principal, external_id=external_id)


def _can_change(principal) -> bool:
    return principal.can(Perm.SPEND_CONTROLS_WRITE)


@login_required
@require_GET
def spend(request, account: str):
    principal, account = _account(request, account)
    control = SpendControl.objects.filter(account=account).first()
    initial = {"at_cap": caps.PAUSE, "alert_thresholds": "50, 80, 100"}
    if control:
        initial = {
            "monthly_cap": control.monthly_cap.normalize() if control.monthly_cap is not None else None,
            "monthly_cap_outcomes": control.monthly_cap_outcomes,
            "alert_thresholds": ", ".join(str(t) for t in control.alert_thresholds),
            "at_cap": control.at_cap,
        }
    return _page(request, principal, account, control, SpendControlsForm(initial=initial, currency=account.currency))


def _rejected(request, principal, account: Account, **forms):
    """The Spend page again, 400, with a form that did not validate (webhook, top-up)."""
    control = SpendControl.objects.filter(account=account).first()
    return _page(request, principal, account, control, SpendControlsForm(currency=account.currency), http_status=400,
                 **forms)  # fmt: skip


def _page(request, principal, account: Account, control, form, webhook_form=None, http_status=200, topup_form=None):
    status = account_spend_status(account=account)
    now = timezone.now()
    usage = status.usage
    policy = caps.CapPolicy(
        cap_amount=status.cap,
        cap_outcomes=status.cap_outcomes,
        at_cap=control.at_cap if control else caps.PAUSE,
        thresholds=tuple(control.alert_thresholds) if control else caps.DEFAULT_THRESHOLDS,
    )
    used = caps.percent_used(policy, usage)
    start, end = period_days(status.period)
    endpoints = list(WebhookEndpoint.objects.filter(account=account).order_by("-created_at"))
    deliveries = (
        WebhookDelivery.objects.filter(endpoint__account=account)
        .select_related("endpoint")
        .prefetch_related("attempt_log")
        .order_by("-created_at", "-id")[:20]
    )
    if not _can_change(principal):
        for field in form.fields.values():
            field.disabled = True
    context = {
        "portal_account": account,
        "status": status,
        "control": control,
        "percent_used": used,
        "meter_width": min(used or 0, Decimal(100)),
        "forecast_day": forecast_day(
            control=control, period=status.period, usage=usage, now=now, fixed=status.charges.fixed
        )
        if control
        else None,
        "period_start": start,
        "period_last_day": end.fromordinal(end.toordinal() - 1),
        "form": form,
        "webhook_form": webhook_form or WebhookForm(),
        "can_change": _can_change(principal),
        "alerts": SpendAlert.objects.filter(account=account).order_by("-fired_at")[:20],
        "changes": [
            (change, control_changes(change.old, change.new, account.currency))
            for change in SpendControlChange.objects.filter(account=account)[:10]
        ],
        "projected": month_end_projection(status, today=now.astimezone(ZoneInfo(account.timezone)).date()),
        "endpoints": endpoints,
        "deliveries": deliveries,
        "notifications": notifications_for(account_id=account.pk, role=principal.role)[:10]
        if not principal.is_vendor
        else [],
        **_credits_context(request, principal, account, topup_form),
    }
    with timezone.override(ZoneInfo(account.timezone)):
        return render(request, "billing/spend.html", context, status=http_status)


@login_required
@require_POST
def spend_controls_update(request, account: str):
    principal, account = _account(request, account)
    if not _can_change(principal):
        raise PermissionDenied
    form = SpendControlsForm(request.POST, currency=account.currency)
    if not form.is_valid():
        control = SpendControl.objects.filter(account=account).first()
        return _page(request, principal, account, control, form, http_status=400)
    data = form.cleaned_data
    spend_controls_set(
        account=account,
        monthly_cap=data["monthly_cap"],
        monthly_cap_outcomes=data["monthly_cap_outcomes"],
        alert_thresholds=data["alert_thresholds"],
        at_cap=data["at_cap"],
        changed_by=request.user.username,
    )
    status = account_spend_status(account=account)
    if status.paused:
        messages.warning(request, "Controls saved. Spend is at or over the cap: automation is paused.")
    else:
        messages.success(request, "Controls saved.")
    return redirect("billing_spend:spend", account=account.external_id)


@login_required
@require_GET
def cap_preview(request, account: str):
    """htmx: warn before saving when the typed cap is at or below this period's spend."""
    _principal, account = _account(request, account)
    try:  # what the form would take (it strips spaces); anything else previews nothing
        cap = decimal_parse(request.GET.get("monthly_cap", "").strip(), whole_digits=12, places=4)
    except DecimalRefused:
        cap = None
    usage = account_spend_status(account=account).usage
    return render(
        request,
        "billing/spend.html#cap-preview",
        {"preview_cap": cap, "preview_spend": usage.amount, "portal_account": account},
    )


@login_required
@require_POST
def webhook_add(request, account: str):
    principal, account = _account(request, account)
    if not _can_change(principal):
        raise PermissionDenied
    form = WebhookForm(request.POST)
    if form.is_valid():
        try:
            webhook_endpoint_create(account=account, url=form.cleaned_data["url"])
        except InvalidWebhookUrl as exc:
            form.add_error("url", str(exc))
        else:
            messages.success(request, "Webhook endpoint added. Verify signatures with its secret.")
            return redirect("billing_spend:spend", account=account.external_id)
    return _rejected(request, principal, account, webhook_form=form)


@login_required
@require_POST
def webhook_toggle(request, account: str, pk: int):
    principal, account = _account(request, account)
    if not _can_change(principal):
        raise PermissionDenied
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk, account=account)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=not endpoint.active)
    messages.success(request, f"Endpoint {'paused' if endpoint.active else 'enabled'}.")
    return redirect("billing_spend:spend", account=account.external_id)


# --- Credits: the prepaid balance, its ledger and top-ups (billing.credits) ----------------------

LEDGER_PAGE = 25


class TopUpForm(forms.Form):
    pack = forms.ChoiceField(widget=forms.RadioSelect, label="Pack")
    # A one-time key per rendered form: submitting twice buys once (billing.credits.topup_buy).
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, summary, **kwargs):
        super().__init__(*args, **kwargs)
        self.packs = {p.key: p for p in summary.packs}
        currency = summary.account.currency
        self.fields["pack"].choices = [
            (
                key,
                f"{p.credits.normalize():,f} credits — {money_display(p.price, currency)}"
                + (f" ({p.discount_percent.normalize():f} % off)" if p.discount_percent else ""),
            )
            for key, p in self.packs.items()
        ]
        if not self.is_bound:
            self.initial.setdefault("key", secrets.token_urlsafe(18))


def credits_text(value: Decimal, *, signed: bool = False) -> str:
    """Credits for people: "1,000", "12.5"; signed lines "+500" / "−1,200" (a true minus sign)."""
    text = f"{abs(value).normalize():,f}"
    if signed and value:
        return ("+" if value > 0 else "\u2212") + text
    return text if value >= 0 else "\u2212" + text


def _credits_context(request, principal, account: Account, topup_form) -> dict:
    summary = credit_summary(account=account)
    if not summary.visible:
        return {"credits": None}
    before = ledger_cursor_decode(request.GET.get("ledger_before", ""))
    lines = credit_ledger(account=account, before=before, limit=LEDGER_PAGE + 1)
    more = len(lines) > LEDGER_PAGE
    lines = lines[:LEDGER_PAGE]
    can_buy = _can_change(principal) and bool(summary.packs)
    return {
        "credits": summary,
        "credits_text": {
            "balance": credits_text(summary.balance),
            "included": credits_text(summary.included),
            "pending": credits_text(summary.pending),
            "billed": credits_text(summary.billed),
            "used": credits_text(summary.used_so_far),
            "balance_value": summary.value(summary.balance),
        },
        "ledger_rows": [
            {
                "line": ln,
                "credits": credits_text(ln.credits, signed=True),
                "balance_after": credits_text(ln.balance_after),
                "amount": money_display(ln.amount, ln.currency or account.currency) if ln.amount is not None else "",
            }
            for ln in lines
        ],
        "ledger_older": ledger_cursor_encode(lines[-1]) if more else None,
        "ledger_paged": before is not None,
        "can_buy": can_buy,
        "topup_form": (topup_form or TopUpForm(summary=summary)) if can_buy else None,
    }


@login_required
@require_POST
def credits_topup(request, account: str):
    """Buy a top-up pack (finance admins): a ledger entry and a Top-up line on the open invoice."""
    principal, account = _account(request, account)
    if not _can_change(principal):
        raise PermissionDenied
    summary = credit_summary(account=account)
    form = TopUpForm(request.POST, summary=summary)
    if form.is_valid():
        pack = form.packs[form.cleaned_data["pack"]]
        try:
            entry, created = topup_buy(
                account=account, credits=pack.credits, key=form.cleaned_data["key"], bought_by=request.user.username
            )
        except CreditsRefused as exc:
            form.add_error(None, str(exc))
        else:
            if created:
                messages.success(
                    request,
                    f"Top-up bought: {entry.credits.normalize():,f} credits, charged "
                    f"{money_display(entry.amount, account.currency)} on your {entry.period} invoice.",
                )
            else:
                messages.info(request, "That top-up was already bought (the form was sent twice).")
            return redirect(reverse("billing_spend:spend", args=[account.external_id]) + "#credits")
    return _rejected(request, principal, account, topup_form=form)
