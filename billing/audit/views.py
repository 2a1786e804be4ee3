"""Portal pages of outcomes and what they cost: dashboard, audit table and export, event detail,
terms, overview. Each shows metering's facts and decisions with billing's charges.

Thin function-based views (django-htmx-patterns): resolve the account for the principal
(404 for "missing or not yours"), call selectors from :mod:`billing.audit`, render the
page — or only its partial when htmx asks. Every link keeps its ``href``: the pages work
without JavaScript.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django_tables2 import RequestConfig

from accounts.access import Perm, Principal
from accounts.models import Account
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal
from billing import audit
from billing.audit import saved
from billing.audit.compare import period_comparison
from billing.audit.deductions import deduction_of, event_deduction_panel
from billing.audit.forms import FILTER_PARAMS, AuditFilterForm
from billing.audit.money import dashboard_charges_panel, event_invoice_panel
from billing.audit.panels import (
    event_panels,
    event_story,
    overview_panels,
    selection_actions,
)
from billing.audit.tables import AccountOverviewTable, EventTable
from billing.charges import period_spends
from billing.forgiveness import not_charged_groups
from billing.ledger.selectors import attach_charges
from billing.ledger.shown import REASONS, STATUS_LABELS
from billing.templatetags.portal import SESSION_ACCOUNT_KEY
from metering.selectors import event_get_for_principal
from outcomeportal.core import csvsafe

CHART_RANGES = {"period": "This period", "30": "Last 30 days", "90": "Last 90 days"}


def _account_in_view(request, external_id: str) -> tuple[Principal, Account]:
    """The principal and the account of the URL — 404 when it is missing or not theirs."""
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.EVENTS_READ):
        raise PermissionDenied
    account = account_get_for_principal(principal=principal, external_id=external_id)
    if principal.is_vendor and request.session.get(SESSION_ACCOUNT_KEY) != account.external_id:
        request.session[SESSION_ACCOUNT_KEY] = account.external_id
    return principal, account


def _render(request, account: Account, template: str, context: dict, status: int = 200):
    """Render in the account's time zone, with the account in the header."""
    with timezone.override(ZoneInfo(account.timezone)):
        return render(request, template, {"portal_account": account, **context}, status=status)


def _partial_only(request) -> bool:
    """htmx swaps a fragment — except when restoring history, which needs the whole page."""
    return bool(request.htmx) and not request.htmx.history_restore_request


# --- Dashboard --------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request, account: str):
    _principal, account = _account_in_view(request, account)
    now = timezone.now()
    period = audit.period_current(account=account, now=now)
    summary = audit.period_summary(account=account, period=period)
    chart_range = request.GET.get("range", "period")
    if chart_range not in CHART_RANGES:
        chart_range = "period"
    today = timezone.localtime(now, ZoneInfo(account.timezone)).date()
    if chart_range == "period":
        first_day, end_day = period.first_day, period.end_day
    else:
        first_day, end_day = today - timedelta(days=int(chart_range) - 1), today + timedelta(days=1)
    series = audit.daily_series(account=account, first_day=first_day, end_day=end_day)
    status_labels = STATUS_LABELS
    events_url = reverse("audit:events", args=[account.external_id])
    range_query = {"from": first_day.isoformat(), "to": (end_day - timedelta(days=1)).isoformat()}
    charts = {
        "days": [d.isoformat() for d in series.days],
        "today": today.isoformat(),
        "currency": account.currency,
        "statuses": [
            {"status": s, "label": status_labels[s], "counts": series.by_status[s]}
            for s in audit.STATUS_ORDER
            if any(series.by_status[s])
        ],
        "reasons": [
            {
                "code": code,
                "label": REASONS.get(code, code),
                "count": n,
                "url": f"{events_url}?{urlencode({**range_query, 'reason': code})}",
            }
            for code, n in series.reasons
        ],
    }
    period_query = {"from": period.first_day.isoformat(), "to": period.last_day.isoformat()}
    status_links = [
        {
            "status": s,
            "label": status_labels[s],
            "count": summary.by_status.get(s, 0),
            "url": f"{events_url}?{urlencode({**period_query, 'status': s})}",
        }
        for s in audit.STATUS_ORDER
    ]
    reason_rows = charts["reasons"]
    return _render(
        request,
        account,
        "audit/dashboard.html",
        {
            "period": period,
            "summary": summary,
            "series": series,
            "charts": charts,
            "chart_range": chart_range,
            "chart_ranges": CHART_RANGES,
            "status_links": status_links,
            "reason_rows": reason_rows,
            "range_first": first_day,
            "range_last": end_day - timedelta(days=1),
            "period_events_url": f"{events_url}?{urlencode(period_query)}",
            "panels": [dashboard_charges_panel(account=account, first_day=first_day, end_day=end_day)],
            "comparison": period_comparison(account=account, now=now),  # this period against the last
            "outcome_rows": [(day, [s["counts"][i] for s in charts["statuses"]]) for i, day in enumerate(series.days)],
        },
    )


# --- The audit table ---------------------------------------------------------------------------


def _filter_form(request, account: Account, params=None) -> AuditFilterForm:
    return AuditFilterForm(
        request.GET if params is None else params,
        outcome_types=audit.outcome_types_for(account=account),
        choices=audit.audit_choices(account=account),
    )


def _filter_query(request, params=None) -> dict[str, str]:
    """The filters of the query string, without empty values or cursors."""
    params = request.GET if params is None else params
    return {name: params[name] for name in FILTER_PARAMS if params.get(name, "").strip()}


def _events_context(request, principal: Principal, account: Account, params=None, save_error: str = "") -> dict:
    """Everything the Events page shows for the query ``params`` (the request's, by default)."""
    params = request.GET if params is None else params
    form = _filter_form(request, account, params)
    filters = form.filters()
    older = audit.Cursor.decode(params.get("older", ""))
    newer = audit.Cursor.decode(params.get("newer", "")) if older is None else None
    page = audit.event_audit_page(
        account=account, filters=filters, older_than=older, newer_than=newer, size=audit.PAGE_SIZE
    )
    # The columns: the URL's (a saved view's link), else the person's last choice.
    user_id = principal.user_id
    url_columns = saved.columns_decode(params.get(saved.COLUMNS_PARAM))
    if url_columns is not None:
        columns = url_columns
    elif user_id is not None:
        columns = saved.audit_columns_for(account=account, user_id=user_id)
    else:
        columns = tuple(saved.OPTIONAL_COLUMNS)
    query = _filter_query(request, params)
    link_query = {**query, saved.COLUMNS_PARAM: saved.columns_encode(columns)} if url_columns is not None else query
    base = reverse("audit:events", args=[account.external_id])

    def page_url(**cursor: str) -> str:
        params = {**link_query, **cursor}
        return f"{base}?{urlencode(params)}" if params else base

    actions = selection_actions(principal=principal, account=account)
    table = EventTable(
        page.rows,
        account=account,
        now=timezone.now(),
        select_form="event-selection" if actions else "",
        exclude=saved.columns_hidden(columns),
    )
    export_base = reverse("audit:events_export", args=[account.external_id])
    views = saved.audit_views_for(account=account, user_id=user_id) if user_id is not None else []
    here = urlencode(query)
    cursor = {"older": older.encode()} if older else {"newer": newer.encode()} if newer else {}
    return {
        "form": form,
        "table": table,
        "page": page,
        "filtered": bool(query),
        "match_count": audit.event_audit_count(account=account, filters=filters),  # always a number, said how sure
        "dated": bool(filters.date_from or filters.date_to),
        "first_url": page_url() if page.newer else None,
        "newer_url": page_url(newer=page.newer.encode()) if page.newer else None,
        "older_url": page_url(older=page.older.encode()) if page.older else None,
        "export_url": f"{export_base}?{urlencode(query)}" if query else export_base,
        "clear_url": base,
        "canonical_url": page_url(**cursor),
        "paged": older is not None or newer is not None,
        "selection_actions": actions,  # e.g. disputes' "Dispute selected" (billing.audit.panels)
        # Column choice and saved views (billing.audit.saved): the person's own, on this account.
        "can_keep": user_id is not None,
        "columns": [(name, text, name in columns) for name, text in saved.OPTIONAL_COLUMNS.items()],
        "columns_shown": len(columns),
        "columns_all": len(saved.OPTIONAL_COLUMNS),
        "here_query": here,
        "here_columns": saved.columns_encode(columns),
        "columns_in_url": url_columns is not None,  # a saved view's link: its filters keep its columns
        "saved_views": [
            {
                "view": view,
                "url": f"{base}?{saved.view_query(view)}",
                "current": view.query == here and tuple(view.columns) == tuple(columns),
            }
            for view in views
        ],
        "views_max": saved.VIEWS_MAX,
        "name_max": saved.NAME_MAX,
        "save_error": save_error,
        "save_name": params.get("name", "") if save_error else "",
    }


@login_required
@require_GET
def events(request, account: str):
    principal, account = _account_in_view(request, account)
    context = _events_context(request, principal, account)
    if not _partial_only(request):
        return _render(request, account, "audit/events.html", context)
    response = _render(request, account, "audit/events.html#results", context)
    # The address bar shows the canonical URL (no empty filters), whatever the form sent.
    response["HX-Push-Url"] = context["canonical_url"]
    return response


def _back_to_events(request, account: Account, query: str):
    """To the Events page with ``query``: a redirect (303), or for htmx a swap of the results."""
    url = reverse("audit:events", args=[account.external_id]) + (f"?{query}" if query else "")
    if request.htmx:
        response = HttpResponse()  # htmx reads the header, then fetches the results
        response["HX-Location"] = json.dumps({"path": url, "target": "#results"})
        return response
    return HttpResponseRedirect(url, status=303)


def _keeper(request, external_id: str) -> tuple[Principal, Account, int]:
    """The person keeping columns or views, the account in view, and their user id (403 for an API key)."""
    principal, account = _account_in_view(request, external_id)
    if principal.user_id is None:
        raise PermissionDenied
    return principal, account, principal.user_id


@login_required
@require_POST
def events_columns(request, account: str):
    """Remember the columns the person picked, and show the table again with them."""
    _principal, account, user_id = _keeper(request, account)
    saved.audit_columns_save(account=account, user_id=user_id, columns=request.POST.getlist("col"))
    return _back_to_events(request, account, _safe_query(request.POST.get("query", "")))


@login_required
@require_POST
def events_view_save(request, account: str):
    """Keep the current filters and columns under a name (the person's own, on this account)."""
    principal, account, user_id = _keeper(request, account)
    query = _safe_query(request.POST.get("query", ""))
    columns = saved.columns_decode(request.POST.get(saved.COLUMNS_PARAM)) or ()
    try:
        view = saved.audit_view_save(
            account=account, user_id=user_id, name=request.POST.get("name", ""), query=query, columns=columns
        )
    except saved.SavedViewRefused as refused:
        params = QueryDict(mutable=True)
        params.update(QueryDict(query))
        params[saved.COLUMNS_PARAM] = saved.columns_encode(columns)
        params["name"] = request.POST.get("name", "")
        context = _events_context(request, principal, account, params=params, save_error=str(refused))
        if request.htmx:
            response = _render(request, account, "audit/events.html#view-bar", context)
            response["HX-Retarget"], response["HX-Reswap"] = "#view-bar", "outerHTML"
            return response
        return _render(request, account, "audit/events.html", context, status=400)
    return _back_to_events(request, account, saved.view_query(view))


@login_required
@require_POST
def events_view_delete(request, account: str, view_id: int):
    """Delete one of the person's views (404 when it is not theirs: nothing changes)."""
    _principal, account, user_id = _keeper(request, account)
    saved.audit_view_delete(account=account, user_id=user_id, view_id=view_id)
    return _back_to_events(request, account, _safe_query(request.POST.get("query", "")))


def _safe_query(query: str) -> str:
    """The table's filters (and column choice) of a posted query string; anything else dropped."""
    try:
        filters = saved.query_clean(query)
    except saved.SavedViewRefused:
        filters = ""
    columns = saved.columns_decode(dict(parse_qsl(query or "")).get(saved.COLUMNS_PARAM))
    if columns is None:
        return filters
    return "&".join(p for p in (filters, urlencode({saved.COLUMNS_PARAM: saved.columns_encode(columns)})) if p)


@login_required
@require_GET
def events_export(request, account: str):
    """Exactly the filtered rows, all of them, as CSV — streamed straight from COPY."""
    _principal, account = _account_in_view(request, account)
    filters = _filter_form(request, account).filters()
    stream = csvsafe.stream_safe(audit.event_export_stream(account=account, filters=filters))
    response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime(timezone.now(), ZoneInfo(account.timezone)).strftime("%Y%m%d-%H%M")
    filename = f"{slugify(account.external_id) or 'account'}-events-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- Event detail ------------------------------------------------------------------------------


@login_required
@require_GET
def event_detail(request, account: str, event_id: str):
    principal, account = _account_in_view(request, account)
    event = event_get_for_principal(principal=principal, account_external_id=account.external_id, event_id=event_id)
    attach_charges([event])
    now = timezone.now()
    signals = list(event.signals.all())
    window, left = audit.window_state(event, now=now)
    attributes = sorted(event.attributes.items()) if isinstance(event.attributes, dict) else []
    state = [
        {"key": key, "text": audit.STATE_TEXT.get(key, key), "value": value}
        for key, value in (event.state or {}).items()
    ]
    events_url = reverse("audit:events", args=[account.external_id])
    story = event_story(event=event)  # disputes filed, resolved, credited (other apps' moments)
    deduction = deduction_of(event)
    timeline = (
        audit.event_timeline(event, signals, now=now)
        + [audit.TimelineEntry(e.at, e.kind, e.title, e.detail) for e in story]
        + audit.deduction_entries(deduction)
    )
    return _render(
        request,
        account,
        "audit/event_detail.html",
        {
            "event": event,
            "badge_status": "disputed" if any(e.open for e in story) else event.shown_status,
            "deducted": deduction is not None,
            "checks": audit.decision_explained(event),
            "timeline": sorted(timeline, key=lambda e: (e.at, e.kind == "window")),
            "window": window,
            "time_left": left,
            "attributes": attributes,
            "state": state,
            "criteria": event.criteria,
            "show_cost": principal.can(Perm.COST_READ),
            "can_dispute": principal.can(Perm.DISPUTES_FILE),
            "event_panels": event_panels(principal=principal, account=account, event=event),  # disputes' seam
            "invoice_panels": [
                p
                for p in [
                    event_invoice_panel(principal=principal, account=account, event=event),
                    event_deduction_panel(principal=principal, account=account, event=event, deduction=deduction),
                ]
                if p
            ],
            "events_url": events_url,
            "session_url": f"{events_url}?{urlencode({'q': event.session_id})}" if event.session_id else None,
            "back_url": _safe_back(request, events_url),
        },
    )


def _safe_back(request, default: str) -> str:
    """Back to the filtered table the person came from (same site only), else the table."""
    referer = request.headers.get("Referer", "")
    host = request.get_host()
    for scheme in ("http://", "https://"):
        prefix = f"{scheme}{host}{default}"
        if referer.startswith(prefix):
            return referer[len(f"{scheme}{host}") :]
    return default


# --- "You are not charged when…" ------------------------------------------------------------------


@login_required
@require_GET
def charging_terms(request, account: str):
    """What counts: each outcome type's definition in force (and its changelog), and the reasons an
    outcome is not charged (billing.forgiveness), each a link to those events. Prices are Your plan's."""
    _principal, account = _account_in_view(request, account)
    events_url = reverse("audit:events", args=[account.external_id])
    groups = [
        {
            "title": group.title,
            "reasons": [
                {"code": r.code, "text": r.text, "url": f"{events_url}?{urlencode({'reason': r.code})}"}
                for r in group.reasons
            ],
        }
        for group in not_charged_groups()
    ]
    return _render(
        request,
        account,
        "audit/charging_terms.html",
        {"terms": audit.charging_terms_for(account=account), "reason_groups": groups, "events_url": events_url},
    )


# --- Vendor staff -----------------------------------------------------------------------------------


def _vendor_principal(request) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.ALL_ACCOUNTS):
        raise PermissionDenied
    return principal


@login_required
@require_GET
def overview(request):
    """Every account's current period: outcomes, attainment and spend (vendor staff only)."""
    _vendor_principal(request)
    rows = audit.accounts_overview()
    spend = period_spends(account_ids=[r.account_id for r in rows])
    data = [
        {
            "external_id": r.external_id,
            "name": r.name,
            "tier": r.tier,
            "industry": r.industry,
            "currency": r.currency,
            "outcomes": r.outcomes,
            "charged": r.charged,
            "pending": r.pending,
            "attainment": r.attainment,
            "attainment_sort": -1 if r.attainment is None else r.attainment,
            "previous_attainment": r.previous_attainment,
            "spend": spend.get(r.account_id),
        }
        for r in rows
    ]
    table = AccountOverviewTable(data)
    RequestConfig(request, paginate=False).configure(table)
    spend_by_currency: dict[str, object] = {}
    for r in rows:
        spend_by_currency[r.currency] = spend_by_currency.get(r.currency, 0) + spend.get(r.account_id, 0)
    attempted = sum(r.attempted for r in rows)
    charged = sum(r.charged for r in rows)
    at_risk = [
        r
        for r in rows
        if r.attainment is not None
        and r.previous_attainment is not None
        and r.attainment < r.previous_attainment - 0.05
    ]
    context = {
        "table": table,
        "accounts": len(rows),
        "outcomes": sum(r.outcomes for r in rows),
        "charged": charged,
        "attainment": charged / attempted if attempted else None,
        "spend_by_currency": sorted(spend_by_currency.items(), key=lambda item: -item[1]),
        "at_risk": at_risk,
        "panels": overview_panels(principal=principal_of(request)),  # e.g. disputes' dispute-rate warning
    }
    template = "audit/overview.html#results" if _partial_only(request) else "audit/overview.html"
    return render(request, template, context)


_SWITCH_TARGETS = {
    "dashboard": "audit:dashboard",
    "events": "audit:events",
    "terms": "audit:charging_terms",
}


@login_required
@require_GET
def account_switch(request):
    """Vendor staff pick the account to look at; the choice is kept for the next pages."""
    principal = _vendor_principal(request)
    external_id = request.GET.get("account", "")
    if not external_id:
        request.session.pop(SESSION_ACCOUNT_KEY, None)
        return redirect("audit:overview")
    account = account_get_for_principal(principal=principal, external_id=external_id)  # 404 if unknown
    request.session[SESSION_ACCOUNT_KEY] = account.external_id
    target = _SWITCH_TARGETS.get(request.GET.get("to", ""), "audit:dashboard")
    return redirect(target, account.external_id)
