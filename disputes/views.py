"""Portal pages of disputes: a customer's history, filing, a dispute's page, the support queue, trust.

Function-based and thin: resolve the principal and the account (404 for "missing or not
yours"), call a selector or one service, render. Forms post to small endpoints that redirect
back (post/redirect/get); every page works without JavaScript.
"""

from __future__ import annotations

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import Perm, Principal
from accounts.models import Account, User
from accounts.notify import notifications_for
from accounts.permissions import principal_of
from accounts.selectors import account_get_for_principal
from billing.invoices.models import InvoiceLine
from disputes import conf, selectors, services
from disputes.forms import CommentForm, FileForm, QueueFilterForm, ResolveForm
from disputes.metrics import trust_metrics
from disputes.models import DisputeStatus, ItemDecision, ReasonCode
from disputes.services import DisputeRefused
from metering.models import Event

PREVIEW_ROWS = 200


def _principal(request, perm: Perm) -> Principal:
    principal = principal_of(request)
    if principal is None or not principal.can(perm):
        raise PermissionDenied
    return principal


def _account_in_view(request, external_id: str, perm: Perm = Perm.DISPUTES_READ) -> tuple[Principal, Account]:
    principal = _principal(request, perm)
    return principal, account_get_for_principal(principal=principal, external_id=external_id)


def _render(request, account: Account | None, template: str, context: dict, status: int = 200):
    """Render in the account's time zone (UTC on vendor-wide pages), with the account in the header."""
    zone = ZoneInfo(account.timezone) if account is not None else ZoneInfo("UTC")
    with timezone.override(zone):
        extra = {"portal_account": account} if account is not None else {}
        return render(request, template, {**extra, **context}, status=status)


# --- A customer's disputes ----------------------------------------------------------------------


@login_required
@require_GET
def dispute_list(request, account: str):
    principal, account = _account_in_view(request, account)
    status = request.GET.get("status", "")
    if status not in DisputeStatus.values:
        status = ""
    rows = selectors.dispute_list(principal=principal, account=account, status=status or None)
    counts = {pk: len(ids) for pk, ids in selectors.event_ids_of(rows).items()}
    role = "vendor_support" if principal.is_vendor else principal.role
    notes = list(notifications_for(account_id=account.pk, role=role).filter(kind__startswith="dispute")[:8])
    return _render(
        request,
        account,
        "disputes/list.html",
        {
            "rows": [(d, counts[d.pk]) for d in rows],
            "status": status,
            "statuses": DisputeStatus.choices,
            "can_file": principal.can(Perm.DISPUTES_FILE),
            "notifications": notes,
            "lines": selectors.lines_to_dispute(account=account) if principal.can(Perm.DISPUTES_FILE) else [],
            "sla_hours": services.sla_hours_for(account),
            "now": timezone.now(),
        },
    )


# --- Filing -------------------------------------------------------------------------------------


def _selection(request, account: Account) -> dict:
    """What the customer picked: events (``event``, repeated) or an invoice line (``line``)."""
    source = request.POST if request.method == "POST" else request.GET
    event_ids = [e for e in source.getlist("event") if e.strip()][: services.MAX_EVENTS]
    line_id = source.get("line", "")
    out: dict = {"event_ids": event_ids, "line": None, "events": [], "refusals": {}, "missing": [], "too_many": False}
    if event_ids:
        events = list(
            Event.objects.filter(account=account, event_id__in=event_ids)
            .select_related("outcome_type")
            .order_by("occurred_at", "pk")
        )
        out["events"] = events
        out["missing"] = sorted(set(event_ids) - {e.event_id for e in events})
    elif line_id.isascii() and line_id.isdigit():
        line = selectors.invoice_line_for_account(account=account, line_id=int(line_id))
        if line is None:
            raise Http404("No such invoice line.")
        out["line"] = line
        if line.alloc:
            events = selectors.events_of_line(line=line, limit=services.MAX_EVENTS + 1)
            out["too_many"] = len(events) > services.MAX_EVENTS
            out["events"] = events[: services.MAX_EVENTS]
    out["refusals"] = selectors.event_refusals(out["events"])
    disputable = [e for e in out["events"] if e.pk not in out["refusals"]]
    out["disputable"] = disputable
    out["at_stake"] = sum((e.amount or 0 for e in disputable), 0)
    out["shown"] = out["events"][:PREVIEW_ROWS]
    out["rows"] = [(e, out["refusals"].get(e.pk)) for e in out["shown"]]
    return out


def _to_file(selection: dict) -> list[str]:
    """The events to file: the disputable ones picked; all of them if none is (the service explains why)."""
    return [e.event_id for e in selection["disputable"]] or selection["event_ids"]


@login_required
@require_http_methods(["GET", "POST"])
def dispute_new(request, account: str):
    """Review the selected events (or invoice line) and file the dispute (customer admins)."""
    principal, account = _account_in_view(request, account, Perm.DISPUTES_FILE)
    selection = _selection(request, account)
    form = FileForm(request.POST or None)
    error, status = None, 200
    if request.method == "POST" and form.is_valid():
        line = selection["line"]
        try:
            dispute = services.dispute_file(
                principal=principal,
                account=account,
                reason_code=form.cleaned_data["reason_code"],
                message=form.cleaned_data["message"],
                event_ids=None if line is not None else _to_file(selection),
                invoice_line_id=line.pk if line is not None else None,
                via="app",
            )
        except DisputeRefused as exc:
            error, status = exc, exc.status if exc.status != 403 else 400
        else:
            due = timezone.localtime(dispute.sla_due_at, ZoneInfo(account.timezone))
            messages.success(request, f"Dispute #{dispute.pk} filed. Support answers by {due:%b %-d, %H:%M}.")
            return redirect("disputes:detail", account.external_id, dispute.pk)
    elif request.method == "POST":
        status = 400
    return _render(
        request,
        account,
        "disputes/new.html",
        {
            "form": form,
            "selection": selection,
            "error": error,
            "sla_hours": services.sla_hours_for(account),
            "events_url": reverse("audit:events", args=[account.external_id]),
            "lines": selectors.lines_to_dispute(account=account) if not selection["events"] else [],
        },
        status=status,
    )


# --- One dispute --------------------------------------------------------------------------------


@login_required
@require_GET
def dispute_detail(request, account: str, dispute_id: int):
    principal, account = _account_in_view(request, account)
    dispute = selectors.dispute_get_for_principal(principal=principal, dispute_id=dispute_id, account=account)
    now = timezone.now()
    items = selectors.dispute_items(dispute=dispute)
    can_resolve = principal.can(Perm.DISPUTES_RESOLVE)
    credits = {c.event_id: c for c in selectors.dispute_credits(dispute=dispute)}
    left = dispute.sla_due_at - now
    risk = selectors.sla_risk(
        due_at=dispute.sla_due_at, resolved_at=dispute.resolved_at, now=now, warning=conf.sla_warning()
    )
    applications = []
    if dispute.credit_note_id:
        applications = list(
            InvoiceLine.objects.filter(credit_note_id=dispute.credit_note_id)
            .select_related("invoice")
            .order_by("invoice__period")
        )
    return _render(
        request,
        account,
        "disputes/detail.html",
        {
            "dispute": dispute,
            "items": [(i, credits.get(i.event_id)) for i in items],
            "approved_count": sum(1 for i in items if i.decision == ItemDecision.APPROVED),
            "evidence": selectors.dispute_evidence(dispute=dispute) if principal.is_vendor else [],
            "comments": selectors.dispute_comments(dispute=dispute, principal=principal),
            "history": selectors.dispute_history(dispute=dispute, principal=principal),
            "applications": applications,
            "is_vendor": principal.is_vendor,
            "can_resolve": can_resolve and dispute.is_open,
            "can_comment": can_resolve or principal.can(Perm.DISPUTES_FILE),
            "resolve_form": ResolveForm(initial={"decision": DisputeStatus.APPROVED}),
            "comment_form": CommentForm(),
            "staff": selectors.support_staff() if can_resolve else [],
            "left": left,
            "breached": risk == "breached",
            "at_risk": risk == "at_risk",
            "reason_label": ReasonCode(dispute.reason_code).label,
            "events_url": reverse("audit:events", args=[account.external_id]),
        },
    )


def _back(account: Account, dispute_id: int, anchor: str = ""):
    return redirect(reverse("disputes:detail", args=[account.external_id, dispute_id]) + anchor)


def _refused(request, exc: DisputeRefused) -> None:
    details = " ".join(m for ms in (exc.fields or {}).values() for m in ms)
    messages.error(request, f"{exc.message} {details}".strip())


@login_required
@require_POST
def dispute_comment(request, account: str, dispute_id: int):
    principal, account = _account_in_view(request, account)
    dispute = selectors.dispute_get_for_principal(principal=principal, dispute_id=dispute_id, account=account)
    form = CommentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write a message first.")
        return _back(account, dispute.pk, "#thread")
    try:
        services.dispute_comment_add(
            principal=principal, dispute=dispute, body=form.cleaned_data["body"], internal=form.cleaned_data["internal"]
        )
    except DisputeRefused as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        _refused(request, exc)
    return _back(account, dispute.pk, "#thread")


@login_required
@require_POST
def dispute_assign(request, account: str, dispute_id: int):
    principal, account = _account_in_view(request, account, Perm.DISPUTES_RESOLVE)
    dispute = selectors.dispute_get_for_principal(principal=principal, dispute_id=dispute_id, account=account)
    raw = request.POST.get("assignee", "")
    if raw == "me":
        raw = str(principal.user_id or "")
    assignee = User.objects.filter(pk=int(raw)).first() if raw.isascii() and raw.isdigit() else None
    if raw and assignee is None:
        raise Http404("No such person.")
    try:
        services.dispute_assign(principal=principal, dispute=dispute, assignee=assignee)
    except DisputeRefused as exc:
        _refused(request, exc)
    else:
        who = assignee.get_full_name() or assignee.username if assignee else "nobody"
        messages.success(request, f"Dispute #{dispute.pk} assigned to {who}.")
    return _back(account, dispute.pk)


@login_required
@require_POST
def dispute_resolve(request, account: str, dispute_id: int):
    principal, account = _account_in_view(request, account, Perm.DISPUTES_RESOLVE)
    dispute = selectors.dispute_get_for_principal(principal=principal, dispute_id=dispute_id, account=account)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a decision.")
        return _back(account, dispute.pk, "#resolve")
    decision = form.cleaned_data["decision"]
    chosen = request.POST.getlist("approve") if decision == DisputeStatus.PARTIALLY_APPROVED else None
    try:
        services.dispute_resolve(
            principal=principal, dispute=dispute, decision=decision, note=form.cleaned_data["note"], event_ids=chosen
        )
    except DisputeRefused as exc:
        _refused(request, exc)
        return _back(account, dispute.pk, "#resolve")
    label = dict(DisputeStatus.choices)[decision].lower()
    credit = " The credit is being issued." if decision != DisputeStatus.REJECTED else ""
    messages.success(request, f"Dispute #{dispute.pk} {label}; the customer has been told.{credit}")
    return redirect(reverse("disputes:queue"))


# --- Vendor: the queue and trust metrics ---------------------------------------------------------


@login_required
@require_GET
def queue(request):
    principal = _principal(request, Perm.ALL_ACCOUNTS)
    if not principal.can(Perm.DISPUTES_READ):
        raise PermissionDenied
    accounts = list(Account.objects.order_by("name"))
    staff = selectors.support_staff()
    form = QueueFilterForm(request.GET or None, accounts=accounts, staff=staff)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    by_ext = {a.external_id: a for a in accounts}
    filters = selectors.QueueFilters(
        status=data.get("status") or "open",
        account=by_ext.get(data.get("account") or ""),
        assignee=data.get("assignee") or "",
        reason_code=data.get("reason_code") or "",
        at_risk=bool(data.get("at_risk")),
    )
    now = timezone.now()
    rows = selectors.dispute_queue(filters=filters, principal=principal, now=now)
    totals = selectors.queue_totals(principal=principal, now=now)  # the cards and the banner: one list
    context = {
        "form": form,
        "rows": rows,
        "filters": filters,
        "open_count": len(totals.open),
        "breached_count": len(totals.breached),
        "at_risk_count": len(totals.at_risk),
        "unassigned_count": totals.unassigned,
        "stake_by_currency": totals.stake_by_currency,
        "sla_warnings": totals.sla_warnings,
        "sla_default": conf.sla_hours_default(),
        "warning_hours": int(conf.sla_warning().total_seconds() // 3600),
        "clear_url": reverse("disputes:queue"),
        "query": urlencode({k: v for k, v in request.GET.items() if v}),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "disputes/queue.html#results" if partial else "disputes/queue.html"
    return _render(request, None, template, context)


@login_required
@require_GET
def trust(request):
    principal = _principal(request, Perm.ALL_ACCOUNTS)
    if not principal.can(Perm.DISPUTES_READ):
        raise PermissionDenied
    metrics = trust_metrics(now=timezone.now())
    return _render(request, None, "disputes/trust.html", {"m": metrics, "threshold_percent": metrics.threshold * 100})
