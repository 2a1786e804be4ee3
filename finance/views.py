"""Portal pages of the finance area: thin function-based views over :mod:`finance.selectors`.

Vendor staff holding ``finance.read`` only (vendor finance, vendor operators); everyone else,
customers first, gets 403 — the pages name no account of theirs to hide, so there is nothing to 404.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from accounts.access import Perm, Principal
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal, account_lifecycle_history, account_statuses_at
from accounts.services import LifecycleMoveRefused, account_lifecycle_set
from finance import selectors
from finance.forms import LifecycleForm
from finance.tables import LifecycleTable

# The finance area's pages: (url name, title, what it shows).
SECTIONS = (
    ("finance:index", "Overview", "what each finance page shows"),
    ("finance:accounts", "Accounts", "each account's lifecycle: active, suspended or churned, and since when"),
)


def _sections(current: str) -> list[dict]:
    return [
        {"url": reverse(name), "title": title, "about": about, "current": name == current}
        for name, title, about in SECTIONS
    ]


def _finance_principal(request) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.FINANCE_READ):
        raise PermissionDenied
    return principal


@login_required
@require_GET
def index(request):
    """The finance area's front page: what each section shows."""
    _finance_principal(request)
    return render(request, "finance/index.html", {"finance_sections": _sections("finance:index")})


# --- The account lifecycle ------------------------------------------------------------------------


@login_required
@require_GET
def accounts(request):
    """Every account with its lifecycle status now and since when; operators change it."""
    principal = _finance_principal(request)
    table = LifecycleTable(selectors.account_lifecycle_rows(now=timezone.now()))
    RequestConfig(request, paginate=False).configure(table)
    context = {
        "finance_sections": _sections("finance:accounts"),
        "table": table,
        "can_change": principal.can(Perm.ACCOUNTS_MANAGE),
    }
    return render(request, "finance/accounts.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def account_lifecycle(request, account: str):
    """One account's lifecycle history; vendor operators move it (history is kept)."""
    principal = _finance_principal(request)
    account = account_get_for_principal(principal=principal, external_id=account)
    can_change = principal.can(Perm.ACCOUNTS_MANAGE)
    form = LifecycleForm(request.POST or None)
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if form.is_valid():
            effective_at = datetime.combine(
                form.cleaned_data["effective_on"], time(), tzinfo=ZoneInfo(account.timezone)
            )
            try:
                account_lifecycle_set(
                    account=account,
                    status=form.cleaned_data["status"],
                    effective_at=effective_at,
                    changed_by=request.user.username,
                )
            except LifecycleMoveRefused as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(
                    request, f"{account.name} is {form.cleaned_data['status']} from {effective_at:%Y-%m-%d}."
                )
                return redirect("finance:account_lifecycle", account.external_id)
    statuses = account_statuses_at(at=timezone.now())
    context = {
        "finance_sections": _sections("finance:accounts"),
        "account": account,
        "status": statuses.get(account.pk, "active"),
        "history": account_lifecycle_history(account=account),
        "form": form,
        "can_change": can_change,
    }
    return render(request, "finance/account_lifecycle.html", context)
