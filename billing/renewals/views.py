"""Vendor staff: contract terms that renew or end, with the notice deadlines, soonest first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import Perm
from accounts.permissions import principal_of
from billing.renewals.selectors import renewals


@login_required
@require_GET
def renewals_page(request):
    principal = principal_of(request)
    if principal is None or not principal.can(Perm.ALL_ACCOUNTS):
        raise PermissionDenied
    data = renewals(now=timezone.now())
    rows = [{"row": r, "soon": r.state.notice_soon(data.soon_days)} for r in data.rows]
    return render(
        request,
        "billing/renewals.html",
        {"data": data, "rows": rows, "can_edit": principal.can(Perm.CATALOGUE_MANAGE)},
    )
