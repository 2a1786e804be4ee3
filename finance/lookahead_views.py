"""Portal pages of the finance area that look ahead: attainment scenarios and what-if repricing —
thin views over :mod:`finance.scenario_inputs` and :mod:`billing.whatif.preview` (the rest of the
area: :mod:`finance.views`, whose guard and sections these pages share)."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django_tables2 import RequestConfig

from accounts.access import Principal
from accounts.models import Account
from accounts.selectors import account_get_for_principal
from billing.contracts import TermsInvalid
from billing.whatif.preview import candidate_parse, contract_preview, current_document
from finance import scenarios
from finance.forms import ScenarioForm, WhatIfForm
from finance.scenario_inputs import scenario_inputs, scenario_scope_choices
from finance.tables import MoneyColumn, ScenarioTable, WhatIfTable
from finance.views import finance_principal, sections
from outcomeportal.core import csvsafe

# --- Attainment scenarios -------------------------------------------------------------------------

SCENARIO_LABELS = {
    "baseline": "Baseline",
    "dip": "Dip, then recovery",
    "decline": "Structural decline",
    "churn": "Churn below threshold",
}


def _scenario_query(request):
    """The page's form and, when it is valid, the four scenarios it describes (the one the table shows
    first) and the scope; bad values are shown on the form."""
    choices = scenario_scope_choices()
    form = ScenarioForm(request.GET or None, accounts=choices["accounts"], segments=choices["segments"])
    if request.GET and not form.is_valid():
        return form, None, None, None
    data = form.cleaned_data if request.GET else {}
    months = data.get("months") or scenarios.DEFAULT_MONTHS
    given = {
        "depth_points": data.get("depth_points"),
        "months": data.get("dip_months"),
        "threshold": data.get("threshold"),
    }
    params = {k: v for k, v in given.items() if v is not None}
    slope = {"decline": data.get("points_per_month"), "churn": data.get("churn_points_per_month")}
    each = {
        name: scenarios.scenario_of(
            name, months, {**params, **({"points_per_month": slope[name]} if slope.get(name) is not None else {})}
        )
        for name in scenarios.SCENARIOS
    }
    return form, data.get("scenario") or "baseline", each, (form.scope() if request.GET else {})


def _scenario_rows(body: dict, currencies: list[str]) -> list[dict]:
    """The API's months as table and CSV rows: one revenue column per currency."""
    rows = []
    for m in body["projection"]:
        revenue = {r["currency"]: r["amount"] for r in m["revenue"]}
        rows.append({**m, **{f"revenue_{c}": revenue.get(c, "") for c in currencies}})
    return rows


@login_required
@require_GET
def scenarios_page(request):
    """Attainment scenarios: a scope's next months under the four scenarios — the chosen one in a table,
    all four in the charts."""
    finance_principal(request)
    form, shown, each, scope = _scenario_query(request)
    context = {"finance_sections": sections("finance:scenarios"), "form": form, "labels": SCENARIO_LABELS}
    if each is not None:
        inputs = scenario_inputs(scope=scope, months=each[shown].months)
        projections = {name: inputs.project(s) for name, s in each.items()}
        body = inputs.as_api(projections[shown])
        table = ScenarioTable(
            _scenario_rows(body, inputs.currencies),
            extra_columns=[
                (f"revenue_{c}", MoneyColumn(verbose_name=f"Revenue ({c})", currency=c)) for c in inputs.currencies
            ],
        )
        RequestConfig(request, paginate=False).configure(table)
        history_rates = [None if m.rate is None else float(m.rate) for m in inputs.history]
        chart = {
            "history_periods": inputs.history_periods,
            "periods": inputs.periods,
            "history_rates": history_rates,
            "revenue": [
                {
                    "name": f"{SCENARIO_LABELS[name]} ({c})" if len(inputs.currencies) > 1 else SCENARIO_LABELS[name],
                    "scenario": name,
                    "values": [float(m.revenue.get(c, 0)) for m in p.months],
                }
                for name, p in projections.items()
                for c in inputs.currencies
            ],
            "rates": [
                {
                    "name": SCENARIO_LABELS[name],
                    "scenario": name,
                    "values": [None if m.rate is None else float(m.rate) for m in p.months],
                }
                for name, p in projections.items()
            ],
            "currencies": inputs.currencies,
        }
        context.update(
            {
                "body": body,
                "shown": shown,
                "shown_label": SCENARIO_LABELS[shown],
                "table": table,
                "chart": chart,
                "fan": [
                    (SCENARIO_LABELS[name], [m.as_api()["revenue"] for m in p.months])
                    for name, p in projections.items()
                ],
                "periods": inputs.periods,
                "churns": projections["churn"].churns,
                "churn_scenario": each["churn"],
                "scope_accounts": [(a.account, a.min_attainment) for a in inputs.accounts],
                "csv_query": request.GET.urlencode(),
            }
        )
    return render(request, "finance/scenarios.html", context)


SCENARIO_CSV_HEADERS = ("period", "attempted", "billable", "attainment_rate", "churned_accounts")


@login_required
@require_GET
def scenarios_csv(request):
    """The months of the page's table (the scenario it shows), with the API's figures."""
    finance_principal(request)
    form, shown, each, scope = _scenario_query(request)
    if each is None:
        return HttpResponse("\n".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()), status=400)
    inputs = scenario_inputs(scope=scope, months=each[shown].months)
    body = inputs.as_api(inputs.project(each[shown]))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scenario-{shown}-{body["last_closed"]}.csv"'
    writer = csvsafe.writer(response)
    writer.writerow(["scenario", *SCENARIO_CSV_HEADERS, *(f"revenue_{c}" for c in inputs.currencies)])
    for row in _scenario_rows(body, inputs.currencies):
        writer.writerow(
            [shown, *(row[h] for h in SCENARIO_CSV_HEADERS), *(row[f"revenue_{c}"] for c in inputs.currencies)]
        )
    return response


# --- What-if repricing ------------------------------------------------------------------------


def _whatif_query(request, principal: Principal):
    """The page's form; when valid, the account and its preview (the API's body) — or the contract's
    field errors, shown on the form as the API names them."""
    accounts = list(Account.objects.order_by("name").values_list("external_id", "name"))
    data = request.GET if "account" in request.GET else None
    form = WhatIfForm(data, accounts=accounts)
    if data is None or not form.is_valid():
        return form, None, None
    account = account_get_for_principal(principal=principal, external_id=form.cleaned_data["account"])
    document = form.cleaned_data["contract"]
    if document is None:
        document = current_document(account=account) or {}
    try:
        terms = candidate_parse(document, account=account)
    except TermsInvalid as exc:
        for field, errors in exc.fields.items():
            form.add_error("contract", f"{field}: {' '.join(errors)}")
        return form, account, None
    preview = contract_preview(account=account, terms=terms, months=form.cleaned_data["months"])
    return form, account, preview.as_api()


@login_required
@require_GET
def whatif(request):
    """What-if repricing: an account's last closed months under a candidate contract, beside its invoices."""
    principal = finance_principal(request)
    form, account, body = _whatif_query(request, principal)
    if account is not None and not form.data.get("contract", "").strip():
        # The contract in force, as the candidate's starting point to edit.
        form.data = form.data.copy()
        form.data["contract"] = json.dumps(current_document(account=account) or {}, indent=2)
    context = {"finance_sections": sections("finance:whatif"), "form": form, "account": account, "body": body}
    if body is not None:
        context.update(
            {
                "table": WhatIfTable(body["periods"], currency=body["currency"]),
                "chart": {
                    "periods": [p["period"] for p in body["periods"]],
                    "actual": [float(p["actual_total"]) for p in body["periods"]],
                    "candidate": [float(p["candidate_total"]) for p in body["periods"]],
                    "currency": body["currency"],
                },
                "csv_query": request.GET.urlencode(),
            }
        )
    return render(request, "finance/whatif.html", context)


WHATIF_CSV_HEADERS = ("period", "invoice", "actual_total", "candidate_total", "difference")


@login_required
@require_GET
def whatif_csv(request):
    """The page's months (the API's figures), then the total."""
    principal = finance_principal(request)
    form, account, body = _whatif_query(request, principal)
    if body is None:
        return HttpResponse("\n".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()), status=400)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="whatif-{account.external_id}.csv"'
    writer = csvsafe.writer(response)
    writer.writerow(["account", "currency", *WHATIF_CSV_HEADERS])
    for row in body["periods"]:
        writer.writerow([account.external_id, body["currency"], *(row[h] for h in WHATIF_CSV_HEADERS)])
    totals = ("total", "", body["actual_total"], body["candidate_total"], body["difference"])
    writer.writerow([account.external_id, body["currency"], *totals])
    return response
