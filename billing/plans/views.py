"""Portal pages of plans, under /plans/ (vendor staff read; vendor operators, ``catalogue.manage``,
create plans, publish versions and move accounts). Writes go through :mod:`billing.plans.services`
and redirect (POST/redirect/GET)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import Perm, Principal
from accounts.permissions import vendor_staff
from billing.plans.documents import document_merged, plan_terms
from billing.plans.forms import MemberOverridesForm, PlanAssignForm, PlanNewForm, PlanPublishForm, add_field_errors
from billing.plans.models import Plan, PlanMember
from billing.plans.services import (
    PlanRefused,
    member_leave,
    member_overrides_set,
    plan_assign,
    plan_create,
    plan_current,
    plan_publish,
)
from billing.presenters import terms_sentences


def _reader(request) -> Principal:
    """Vendor staff (support, finance, operators) read; anyone else gets 403."""
    return vendor_staff(request)


def _writer(request) -> Principal:
    """Vendor operators change (``catalogue.manage``, the API's permission for the same writes)."""
    return vendor_staff(request, Perm.CATALOGUE_MANAGE)


def _shown(document: dict) -> dict:
    """The document as an operator edits it: the fields it sets (none of the normalised nulls)."""
    return {k: v for k, v in document.items() if v not in (None, "", [], {})}


def _sentences(document: dict, currency: str) -> list[str]:
    """The price book in plain words (the plan page's sentences); nothing for a document that does not hold."""
    terms = plan_terms(document)
    return terms_sentences(terms=terms, currency=currency) if terms else []


@login_required
@require_http_methods(["GET", "POST"])
def plans(request):
    """Every plan with its current version and members; a new plan."""
    principal = _reader(request)
    form = PlanNewForm(request.POST or None)
    if request.method == "POST":
        _writer(request)
        if form.is_valid():
            try:
                plan = plan_create(by=principal.label, **form.cleaned_data)
            except PlanRefused as exc:
                add_field_errors(form, exc.fields, into="document")
            else:
                messages.success(request, f"Plan {plan.name} created at version 1. Move accounts onto it below.")
                return redirect("plans:plan", plan.code)
    rows = Plan.objects.annotate(members_n=Count("members")).order_by("name")
    context = {"plans": rows, "form": form, "can_manage": principal.can(Perm.CATALOGUE_MANAGE)}
    return render(request, "billing/plans/plans.html", context)


def _plan_page(request, principal: Principal, plan: Plan, **forms):
    current = plan_current(plan)
    members = list(PlanMember.objects.filter(plan=plan).select_related("account").order_by("account__name"))
    context = {
        "plan": plan,
        "current": current,
        "sentences": _sentences(current.document, plan.currency),
        "versions": plan.versions.order_by("-version"),
        "members": [
            {
                "member": m,
                "overrides": json.dumps(m.overrides, indent=1) if m.overrides else "",
                "sentences": _sentences(document_merged(current.document, m.overrides), plan.currency)
                if m.overrides
                else [],
            }
            for m in members
        ],
        "can_manage": principal.can(Perm.CATALOGUE_MANAGE),
        "publish_form": forms.get("publish_form")
        or PlanPublishForm(initial={"document": json.dumps(_shown(current.document), indent=2)}),
        "assign_form": forms.get("assign_form") or PlanAssignForm(plan=plan),
    }
    return render(request, "billing/plans/plan.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def plan_detail(request, code: str):
    """One plan: its price book in plain words, its versions and members; publish a version (POST)."""
    principal = _reader(request)
    plan = get_object_or_404(Plan, code=code)
    if request.method == "GET":
        return _plan_page(request, principal, plan)
    _writer(request)
    form = PlanPublishForm(request.POST)
    if form.is_valid():
        try:
            change = plan_publish(plan=plan, by=principal.label, **form.cleaned_data)
        except PlanRefused as exc:
            add_field_errors(form, exc.fields, into="document")
        else:
            messages.success(
                request,
                f"Version {change.version.version} published: {len(change.contracts)} account"
                f"{'' if len(change.contracts) == 1 else 's'} follow it from their next period.",
            )
            return redirect("plans:plan", plan.code)
    return _plan_page(request, principal, plan, publish_form=form)


@login_required
@require_POST
def plan_assign_view(request, code: str):
    """Move accounts onto the plan, each from its next period."""
    principal = _writer(request)
    plan = get_object_or_404(Plan, code=code)
    form = PlanAssignForm(request.POST, plan=plan)
    if form.is_valid():
        try:
            change = plan_assign(
                plan=plan, accounts=form.chosen(), overrides=form.cleaned_data["overrides"], by=principal.label
            )
        except PlanRefused as exc:
            add_field_errors(form, exc.fields, into="overrides")
        else:
            names = ", ".join(c.account.name for c in change.contracts)
            first = min(c.effective_from for c in change.contracts)
            messages.success(request, f"{names} follow {plan.name} from {first:%-d %B %Y}.")
            return redirect("plans:plan", plan.code)
    return _plan_page(request, principal, plan, assign_form=form)


@login_required
@require_POST
def member_view(request, code: str, account: str):
    """One member: change its overrides, or take it off the plan (``leave``)."""
    principal = _writer(request)
    member = get_object_or_404(
        PlanMember.objects.select_related("account", "plan"), plan__code=code, account__external_id=account
    )
    if "leave" in request.POST:
        member_leave(member=member)
        messages.success(
            request, f"{member.account.name} no longer follows {member.plan.name}; its contract stays as it is."
        )
        return redirect("plans:plan", code)
    form = MemberOverridesForm(request.POST)
    if form.is_valid():
        try:
            version = member_overrides_set(member=member, overrides=form.cleaned_data["overrides"], by=principal.label)
        except PlanRefused as exc:
            messages.error(request, f"Not saved — {exc}")
        else:
            starts = f"{version.effective_from:%-d %B %Y}"
            messages.success(request, f"{member.account.name}'s overrides saved: its contract follows from {starts}.")
    else:
        messages.error(request, f"Not saved — {' '.join(form.errors.get('overrides', []))}")
    return redirect("plans:plan", code)
