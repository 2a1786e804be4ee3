"""What every portal page shows: the account in view, its current period, the navigation by role."""

from __future__ import annotations

from accounts.permissions import principal_of


def portal(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    principal = principal_of(request)
    return {"principal": principal, "portal_account": getattr(user, "account", None)}
