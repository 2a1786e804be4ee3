"""Portal pages of the finance area: thin function-based views over :mod:`finance.selectors`.

Vendor staff holding ``finance.read`` only (vendor finance, vendor operators); everyone else,
customers first, gets 403 — the pages name no account of theirs to hide, so there is nothing to 404.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.access import Perm, Principal
from accounts.permissions import principal_of

# The finance area's pages: (url name, title, what it shows).
SECTIONS = (("finance:index", "Overview", "what each finance page shows"),)


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
