"""DRF permission classes over :class:`accounts.access.Principal`, and the portal's vendor-staff guard."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from accounts.access import Perm, Principal


def principal_of(request) -> Principal | None:
    """The request's principal: an API key's, or the signed-in user's."""
    user = request.user
    if isinstance(user, Principal):
        return user
    if user is not None and getattr(user, "is_authenticated", False):
        return Principal(role=user.role, account_id=user.account_id, label=user.username, user_id=user.pk)
    return None


def vendor_staff(request, perm: Perm | None = None) -> Principal:
    """The signed-in vendor staff member (support, finance, operators: every account in view), holding
    ``perm`` when one is named; anyone else gets 403 (a vendor page names no customer's account to hide)."""
    principal = principal_of(request)
    if principal is None or not principal.is_vendor or not principal.can(Perm.ALL_ACCOUNTS):
        raise PermissionDenied
    if perm is not None and not principal.can(perm):
        raise PermissionDenied
    return principal


class IsAuthenticatedPrincipal(BasePermission):
    def has_permission(self, request, view) -> bool:
        return principal_of(request) is not None


def require(perm: Perm) -> type[BasePermission]:
    """A permission class that lets through principals holding ``perm``."""

    class _Has(BasePermission):
        message = f"This key or user is not allowed to do this ({perm.value})."

        def has_permission(self, request, view) -> bool:
            principal = principal_of(request)
            return principal is not None and principal.can(perm)

    _Has.__name__ = f"Has_{perm.name}"
    return _Has
