"""Queries over accounts, scoped to the principal asking."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.access import Principal
from accounts.models import Account


def accounts_visible_to(*, principal: Principal) -> QuerySet[Account]:
    qs = Account.objects.all()
    return qs if principal.is_vendor else qs.filter(pk=principal.account_id)


def account_get_for_principal(*, principal: Principal, external_id: str) -> Account:
    """The account, or 404 when it does not exist *or* is not the principal's — one answer for both."""
    account = accounts_visible_to(principal=principal).filter(external_id=external_id).first()
    if account is None:
        raise Http404("No such account.")
    return account
