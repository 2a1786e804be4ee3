"""Queries over accounts, scoped to the principal asking."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.access import Principal
from accounts.models import Account, WebhookEndpoint


def accounts_visible_to(*, principal: Principal) -> QuerySet[Account]:
    qs = Account.objects.all()
    return qs if principal.is_vendor else qs.filter(pk=principal.account_id)


def account_get_for_principal(*, principal: Principal, external_id: str) -> Account:
    """The account, or 404 when it does not exist *or* is not the principal's — one answer for both."""
    account = accounts_visible_to(principal=principal).filter(external_id=external_id).first()
    if account is None:
        raise Http404("No such account.")
    return account


def webhook_endpoints_of(*, account: Account) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(account=account).order_by("-created_at", "-id")


def webhook_endpoint_get_for_account(*, account: Account, webhook_id: int) -> WebhookEndpoint:
    """The account's endpoint, or 404 when it does not exist *or* is another account's."""
    endpoint = webhook_endpoints_of(account=account).filter(pk=webhook_id).first()
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint
