"""Portal pages of the outcome catalogue, under /catalogue/ (vendor staff).

Every vendor staff member reads the catalogue (types, the history of every definition, delivery
costs); vendor operators (``catalogue.manage``, as over the API) create types, publish criteria
versions — the product definition's or one account's override — and set delivery costs.
Customers get 403: the pages name no account of theirs to hide, so there is nothing to 404 (their
view of the catalogue is billing's "What counts" page). Writes go through the API's validation
(:mod:`metering.forms`) and the services the API calls, then redirect (POST/redirect/GET).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_tables2 import RequestConfig

from accounts.access import Perm, Principal
from accounts.models import Account
from accounts.permissions import vendor_staff
from accounts.selectors import account_get_for_principal
from metering.forms import CriteriaVersionForm, OutcomeCostForm, OutcomeTypeForm, criteria_initial
from metering.models import OutcomeType, SuccessCriteria
from metering.selectors import catalogue_rows, criteria_history, criteria_values, outcome_type_get
from metering.services import (
    OutcomeCostExists,
    OutcomeTypeExists,
    criteria_version_create,
    outcome_cost_create,
    outcome_type_create,
)
from metering.tables import CatalogueTable, CriteriaHistoryTable, price_text


def _reader(request) -> Principal:
    """Vendor staff (support, finance, operators) read; anyone else gets 403."""
    return vendor_staff(request)


def _writer(request) -> Principal:
    """Vendor operators change (``catalogue.manage``, the API's permission for the same writes)."""
    return vendor_staff(request, Perm.CATALOGUE_MANAGE)


def _partial_only(request) -> bool:
    """htmx swaps a fragment — except when restoring history, which needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def _account_choices() -> list[tuple[str, str]]:
    return [
        (ext, f"{name} ({ext})") for ext, name in Account.objects.order_by("name").values_list("external_id", "name")
    ]


@login_required
@require_GET
def catalogue(request):
    """Every outcome type: price, window, current product definition, overrides, costs in force."""
    principal = _reader(request)
    table = CatalogueTable(catalogue_rows(today=timezone.localdate()))
    if not principal.can(Perm.COST_READ):
        table.columns.hide("costs")
    RequestConfig(request, paginate=False).configure(table)
    context = {"table": table, "can_manage": principal.can(Perm.CATALOGUE_MANAGE)}
    return render(request, "metering/catalogue.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def outcome_type_new(request):
    """Define an outcome type and version 1 of its product definition (as POST /api/v1/outcome-types)."""
    principal = _writer(request)
    form = OutcomeTypeForm(request.POST or None, initial=criteria_initial(None))
    if request.method == "POST" and form.is_valid():
        try:
            outcome_type = outcome_type_create(created_by=principal.label, **form.validated)
        except OutcomeTypeExists:
            form.add_error("code", f"An outcome type with code {form.validated['code']!r} exists.")
        else:
            messages.success(request, f"{outcome_type.name} ({outcome_type.code}) is in the catalogue, at version 1.")
            return redirect("catalogue:outcome_type", outcome_type.code)
    return render(request, "metering/outcome_type_new.html", {"form": form})


def _detail(request, principal: Principal, outcome_type: OutcomeType, *, cost_form: OutcomeCostForm | None = None):
    account = None
    if request.GET.get("account"):
        account = account_get_for_principal(principal=principal, external_id=request.GET["account"])
    history = criteria_history(outcome_type=outcome_type, account_id=account.pk if account else None)
    table = CriteriaHistoryTable(history)
    RequestConfig(request, paginate=False).configure(table)
    context = {
        "outcome_type": outcome_type,
        "history_table": table,
        "history_account": account,
        "accounts": _account_choices(),
        "can_manage": principal.can(Perm.CATALOGUE_MANAGE),
    }
    if _partial_only(request) and request.method == "GET":
        return render(request, "metering/outcome_type.html#history", context)
    current = {}
    for entry in criteria_history(outcome_type=outcome_type) if account else history:
        current.setdefault(entry.criteria.account_id, entry.criteria)  # newest first: the version in force
    can_cost = principal.can(Perm.COST_READ)
    context |= {
        "unit_price": price_text(outcome_type.unit_price),
        "product": current.pop(None, None),
        "overrides": sorted(current.values(), key=lambda c: c.account.name),
        "costs": outcome_type.costs.order_by("complexity", "-effective_from") if can_cost else None,
        "cost_form": cost_form or OutcomeCostForm(),
    }
    return render(request, "metering/outcome_type.html", context)


@login_required
@require_GET
def outcome_type_detail(request, code: str):
    """One type: its facts, its current definitions, its delivery costs and the history of every
    version — the product's and each account's override — with what changed, field by field.
    ``?account=``: the history of that account's definition only (htmx swaps the table)."""
    principal = _reader(request)
    return _detail(request, principal, outcome_type_get(code=code))


def _latest(outcome_type: OutcomeType, account: Account | None) -> SuccessCriteria | None:
    return (
        SuccessCriteria.objects.filter(outcome_type=outcome_type, account=account)
        .select_related("outcome_type", "account")
        .order_by("-version")
        .first()
    )


@login_required
@require_http_methods(["GET", "POST"])
def criteria_new(request, code: str):
    """Publish a new version of the product definition, or of one account's override (as
    POST /api/v1/outcome-types/{code}/criteria). The form starts from the version in force for the
    chosen scope (an account without an override yet: the product definition)."""
    principal = _writer(request)
    outcome_type = outcome_type_get(code=code)
    scope = request.POST.get("account") if request.method == "POST" else request.GET.get("account")
    account = account_get_for_principal(principal=principal, external_id=scope) if scope else None
    own = _latest(outcome_type, account)  # the latest version of this very definition
    start = own or _latest(outcome_type, None)  # what the new version starts from
    form = CriteriaVersionForm(
        request.POST if request.method == "POST" else None,
        initial=criteria_initial(start),
        base=criteria_values(own) if own else None,
        first=start is None,
    )
    if request.method == "POST" and form.is_valid():
        criteria = criteria_version_create(
            outcome_type=outcome_type, account=account, created_by=principal.label, **form.validated
        )
        whose = f"{account.name}'s definition" if account else "the product definition"
        messages.success(request, f"Published {criteria.label}: {whose} of {outcome_type.name}.")
        url = reverse("catalogue:outcome_type", args=[outcome_type.code])
        return redirect(f"{url}#history")
    context = {
        "outcome_type": outcome_type,
        "form": form,
        "account": account,
        "accounts": _account_choices(),
        "start": start,
        "own": own,
    }
    if _partial_only(request) and request.method == "GET":
        return render(request, "metering/criteria_new.html#publish", context)
    return render(request, "metering/criteria_new.html", context)


@login_required
@require_POST
def outcome_cost_new(request, code: str):
    """A delivery cost of the type (and tier) from a date (as POST /api/v1/outcome-types/{code}/costs)."""
    principal = _writer(request)
    outcome_type = outcome_type_get(code=code)
    form = OutcomeCostForm(request.POST)
    if form.is_valid():
        try:
            cost = outcome_cost_create(outcome_type=outcome_type, created_by=principal.label, **form.validated)
        except OutcomeCostExists as exc:
            form.add_error(None, f"A cost of {exc} exists; costs are never edited.")
        else:
            tier = cost.complexity or "every tier without its own"
            messages.success(
                request, f"{outcome_type.name} costs {cost.amount.normalize()} ({tier}) from {cost.effective_from}."
            )
            return redirect(reverse("catalogue:outcome_type", args=[outcome_type.code]) + "#costs")
    return _detail(request, principal, outcome_type, cost_form=form)
