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
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django_tables2 import RequestConfig

from accounts.access import Perm, Principal
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal, account_lifecycle_history, account_statuses_at
from accounts.services import LifecycleMoveRefused, account_lifecycle_set, account_min_attainment_set
from finance import revenue_report, selectors
from finance.attainment import DIMENSIONS, NOT_ATTEMPTED, group_by_parse
from finance.forms import LifecycleForm, MinAttainmentForm
from finance.margin import MARGIN_DIMENSIONS
from finance.tables import (
    AttainmentTable,
    CohortTable,
    LifecycleTable,
    MarginTable,
    RevenueMonthTable,
    segment_text,
)
from outcomeportal.core import csvsafe
from outcomeportal.core.periods import period_parse

# The finance area's pages: (url name, title, what it shows).
SECTIONS = (
    ("finance:index", "Overview", "what each finance page shows"),
    ("finance:attainment", "Attainment", "billable ÷ attempted by segment, 12 months of trend, falling segments"),
    ("finance:margin", "Margin", "charged, delivery cost and gross margin against the floor; loss outcomes"),
    ("finance:revenue", "Revenue", "revenue by month, MRR, ARR and contracted ARR, cohorts' NRR and GRR"),
    ("finance:scenarios", "Scenarios", "the next months' volume, attainment and revenue under four scenarios"),
    ("finance:whatif", "What-if", "an account's closed months repriced under a candidate contract"),
    ("finance:accounts", "Accounts", "each account's lifecycle: active, suspended or churned, and since when"),
)


def sections(current: str) -> list[dict]:
    return [
        {"url": reverse(name), "title": title, "about": about, "current": name == current}
        for name, title, about in SECTIONS
    ]


def finance_principal(request) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.FINANCE_READ):
        raise PermissionDenied
    return principal


@login_required
@require_GET
def index(request):
    """The finance area's front page: what each section shows."""
    finance_principal(request)
    return render(request, "finance/index.html", {"finance_sections": sections("finance:index")})


# --- The account lifecycle ------------------------------------------------------------------------


@login_required
@require_GET
def accounts(request):
    """Every account with its lifecycle status now and since when; operators change it."""
    principal = finance_principal(request)
    table = LifecycleTable(selectors.account_lifecycle_rows(now=timezone.now()))
    RequestConfig(request, paginate=False).configure(table)
    context = {
        "finance_sections": sections("finance:accounts"),
        "table": table,
        "can_change": principal.can(Perm.ACCOUNTS_MANAGE),
    }
    return render(request, "finance/accounts.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def account_lifecycle(request, account: str):
    """One account's lifecycle history; vendor operators move it (history is kept)."""
    principal = finance_principal(request)
    account = account_get_for_principal(principal=principal, external_id=account)
    can_change = principal.can(Perm.ACCOUNTS_MANAGE)
    threshold_post = request.method == "POST" and "min_attainment" in request.POST
    form = LifecycleForm(None if threshold_post else (request.POST or None))
    threshold_form = MinAttainmentForm(
        request.POST if threshold_post else None, initial={"min_attainment": account.min_attainment}
    )
    if threshold_post:
        if not can_change:
            raise PermissionDenied
        if threshold_form.is_valid():
            account_min_attainment_set(account=account, min_attainment=threshold_form.cleaned_data["min_attainment"])
            messages.success(request, f"{account.name}'s minimum attainment is {account.min_attainment or 'not set'}.")
            return redirect("finance:account_lifecycle", account.external_id)
    elif request.method == "POST":
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
        "finance_sections": sections("finance:accounts"),
        "account": account,
        "status": statuses.get(account.pk, "active"),
        "history": account_lifecycle_history(account=account),
        "form": form,
        "threshold_form": threshold_form,
        "can_change": can_change,
    }
    return render(request, "finance/account_lifecycle.html", context)


# --- Attainment -----------------------------------------------------------------------------------

DIMENSION_LABELS = {
    "tier": "Tier",
    "industry": "Industry",
    "use_case": "Use case",
    "outcome_type": "Outcome type",
    "account": "Account",
}
# The group_by choices of the page: the whole book, each dimension, each pair.
GROUP_CHOICES = [("", "All accounts")] + [
    (",".join(pair), " × ".join(DIMENSION_LABELS[d] for d in pair))
    for pair in [(d,) for d in DIMENSIONS] + [(a, b) for i, a in enumerate(DIMENSIONS) for b in DIMENSIONS[i + 1 :]]
]
CHART_SEGMENTS = 8  # the trend chart draws the segments with the most attempted outcomes


def _attainment_query(request) -> tuple[str, int, tuple[str, ...]]:
    """period, months and group_by of the page and its CSV (the API's parameters); bad values fall
    back to the defaults."""
    period = period_parse(request.GET.get("period", "")) or selectors.default_period()
    try:
        months = min(max(int(request.GET.get("months", selectors.DEFAULT_MONTHS)), 1), selectors.MAX_MONTHS)
    except ValueError:
        months = selectors.DEFAULT_MONTHS
    try:
        group_by = group_by_parse(request.GET.get("group_by", "tier"))
    except ValueError:
        group_by = ("tier",)
    return period, months, group_by


@login_required
@require_GET
def attainment(request):
    """Attainment per segment: the last month in a table, the months before in a trend chart."""
    finance_principal(request)
    period, months, group_by = _attainment_query(request)
    report = selectors.attainment_report(period=period, months=months, group_by=group_by)
    latest = report.latest()
    names = selectors.outcome_type_names()
    table = AttainmentTable(latest, type_names=names)
    RequestConfig(request, paginate=False).configure(table)
    by_segment: dict = {}
    for row in report.rows:
        by_segment.setdefault(row.segment, []).append(row)
    top = sorted(by_segment, key=lambda s: -sum(r.attempted for r in by_segment[s]))[:CHART_SEGMENTS]
    chart = {
        "periods": report.periods,
        "series": [
            {
                "name": segment_text(s, names),
                "rates": [None if r.rate is None else float(r.rate) for r in by_segment[s]],
            }
            for s in top
        ],
    }
    trend_rows = [(segment_text(s, names), [r.rate for r in by_segment[s]]) for s in by_segment]
    query = request.GET.copy()
    context = {
        "finance_sections": sections("finance:attainment"),
        "report": report,
        "table": table,
        "falling": [(segment_text(r.segment, names), r) for r in latest if r.falling],
        "pending": sum(r.not_attempted["pending"] for r in latest),
        "month_under_way": report.period >= selectors.current_period(),
        "chart": chart,
        "trend_rows": trend_rows,
        "group_choices": GROUP_CHOICES,
        "group_by": ",".join(group_by),
        "months_choices": (3, 6, 12, 24),
        "csv_query": query.urlencode(),
    }
    return render(request, "finance/attainment.html", context)


ATTAINMENT_CSV_HEADERS = ("period", "attempted", "billable", "attainment_rate", "trailing_rate", "falling")


def cell(value):
    """A CSV cell with the API's words: true/false for flags."""
    return ("true" if value else "false") if isinstance(value, bool) else value


@login_required
@require_GET
def attainment_csv(request):
    """Every row of the page's report (every month), with the API's figures."""
    finance_principal(request)
    period, months, group_by = _attainment_query(request)
    body = selectors.attainment_report(period=period, months=months, group_by=group_by).as_api()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="attainment-{period}.csv"'
    writer = csvsafe.writer(response)
    writer.writerow([*group_by, *ATTAINMENT_CSV_HEADERS, *(f"not_attempted_{w}" for w in NOT_ATTEMPTED)])
    for row in body["rows"]:
        writer.writerow(
            [
                *(row["segment"][d] for d in group_by),
                *(cell(row[h]) for h in ATTAINMENT_CSV_HEADERS),
                *(row["not_attempted"][w] for w in NOT_ATTEMPTED),
            ]
        )
    return response


# --- Cost and margin ------------------------------------------------------------------------------


def _margin_query(request) -> tuple[str, int, tuple[str, ...]]:
    period = period_parse(request.GET.get("period", "")) or selectors.default_period()
    try:
        months = min(max(int(request.GET.get("months", 6)), 1), selectors.MAX_MONTHS)
    except ValueError:
        months = 6
    group = request.GET.get("group_by", "outcome_type")
    return period, months, (group if group in MARGIN_DIMENSIONS else "outcome_type",)


@login_required
@require_GET
def margin(request):
    """Charged, cost and gross margin per segment: the last month in a table, the months before in a chart."""
    finance_principal(request)
    period, months, group_by = _margin_query(request)
    report = selectors.margin_report(period=period, months=months, group_by=group_by)
    latest = report.latest()
    names = selectors.outcome_type_names()
    table = MarginTable(latest, type_names=names)
    RequestConfig(request, paginate=False).configure(table)
    series: dict = {}
    for row in report.rows:
        label = f"{segment_text(row.segment, names)} ({row.currency})"
        series.setdefault(label, dict.fromkeys(report.periods))[row.period] = (
            None if row.margin is None else float(row.margin)
        )
    chart = {
        "periods": report.periods,
        "series": [{"name": name, "rates": list(values.values())} for name, values in series.items()],
        "floor": float(report.default_floor),
    }
    context = {
        "finance_sections": sections("finance:margin"),
        "report": report,
        "table": table,
        "below": [(segment_text(r.segment, names), r) for r in latest if r.below_floor],
        "chart": chart,
        "group_choices": [(d, DIMENSION_LABELS[d]) for d in MARGIN_DIMENSIONS],
        "group_by": group_by[0],
        "months_choices": (1, 3, 6, 12, 24),
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "finance/margin.html", context)


MARGIN_CSV_HEADERS = (
    "period",
    "currency",
    "charged",
    "cost",
    "gross_margin",
    "margin_floor",
    "below_floor",
    "loss_outcomes",
    "uncosted_outcomes",
)


@login_required
@require_GET
def margin_csv(request):
    """Every row of the page's report (every month), with the API's figures."""
    finance_principal(request)
    period, months, group_by = _margin_query(request)
    body = selectors.margin_report(period=period, months=months, group_by=group_by).as_api()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="margin-{period}.csv"'
    writer = csvsafe.writer(response)
    writer.writerow([*group_by, *MARGIN_CSV_HEADERS])
    for row in body["rows"]:
        writer.writerow([*(row["segment"][d] for d in group_by), *(cell(row[h]) for h in MARGIN_CSV_HEADERS)])
    return response


@login_required
@require_GET
def losses(request):
    """One account's charged outcomes of a month that cost more than they earned, with links to each event."""
    principal = finance_principal(request)
    account = account_get_for_principal(principal=principal, external_id=request.GET.get("account", ""))
    period = period_parse(request.GET.get("period", "")) or selectors.default_period()
    outcome_type = request.GET.get("outcome_type") or None
    events = selectors.loss_events(account=account, period=period, outcome_type=outcome_type)
    context = {
        "finance_sections": sections("finance:margin"),
        "account": account,
        "period": period,
        "outcome_type": outcome_type,
        "events": events,
    }
    return render(request, "finance/losses.html", context)


# --- Revenue --------------------------------------------------------------------------------------


def _revenue_query(request) -> tuple[int, str]:
    currencies = revenue_report.revenue_currencies()
    currency = request.GET.get("currency", "")
    if currency not in currencies:
        currency = currencies[0] if currencies else "USD"
    try:
        months = min(max(int(request.GET.get("months", selectors.MAX_MONTHS)), 1), selectors.MAX_MONTHS)
    except ValueError:
        months = selectors.MAX_MONTHS
    return months, currency


@login_required
@require_GET
def revenue(request):
    """Revenue by month, MRR and ARR, and cohort retention, in one currency."""
    finance_principal(request)
    months, currency = _revenue_query(request)
    report = revenue_report.revenue_report(months=months, currency=currency)
    body = report.as_api()
    month_table = RevenueMonthTable(list(reversed(body["months"])), currency=currency)
    cohort_table = CohortTable(body["cohorts"], currency=currency)
    chart = {
        "periods": [m["period"] for m in body["months"]],
        "revenue": [float(m["revenue"]) for m in body["months"]],
        "credits": [float(m["credits"]) for m in body["months"]],
        "net": [float(m["net"]) for m in body["months"]],
        "currency": currency,
    }
    context = {
        "finance_sections": sections("finance:revenue"),
        "body": body,
        "month_table": month_table,
        "cohort_table": cohort_table,
        "chart": chart,
        "currencies": revenue_report.revenue_currencies(),
        "currency": currency,
        "months": months,
        "csv_query": request.GET.urlencode(),
    }
    return render(request, "finance/revenue.html", context)


@login_required
@require_GET
def revenue_csv(request):
    """The months of the page (the API's figures)."""
    finance_principal(request)
    months, currency = _revenue_query(request)
    body = revenue_report.revenue_report(months=months, currency=currency).as_api()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="revenue-{currency}.csv"'
    writer = csvsafe.writer(response)
    headers = ("period", "revenue", "credits", "net", "draft")
    writer.writerow(["currency", *headers])
    for row in body["months"]:
        writer.writerow([currency, *(cell(row[h]) for h in headers)])
    return response
