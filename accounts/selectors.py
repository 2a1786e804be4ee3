"""Queries over accounts, scoped to the principal asking."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet
from django.http import Http404

from accounts.access import Principal
from accounts.models import (
    VENDOR_ROLES,
    Account,
    AccountLifecycleChange,
    Invitation,
    LifecycleStatus,
    PeopleChange,
    User,
    WebhookEndpoint,
)


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


# --- The account lifecycle (accounts.models.AccountLifecycleChange) ---------------------------


def account_lifecycle_history(*, account: Account) -> list[AccountLifecycleChange]:
    """The account's lifecycle moves, oldest first."""
    return list(AccountLifecycleChange.objects.filter(account=account).order_by("effective_at", "id"))


def account_status_at(*, account_id: int, at: datetime) -> str:
    """The account's lifecycle status at the instant ``at``: the last move effective at or before it,
    ``active`` when there is none (every account starts active)."""
    status = (
        AccountLifecycleChange.objects.filter(account_id=account_id, effective_at__lte=at)
        .order_by("-effective_at", "-id")
        .values_list("status", flat=True)
        .first()
    )
    return status or LifecycleStatus.ACTIVE


def account_statuses_at(*, at: datetime) -> dict[int, str]:
    """Every account's lifecycle status at ``at``, by account id (one query)."""
    statuses = dict.fromkeys(Account.objects.values_list("pk", flat=True), LifecycleStatus.ACTIVE.value)
    rows = (
        AccountLifecycleChange.objects.filter(effective_at__lte=at)
        .order_by("account_id", "-effective_at", "-id")
        .distinct("account_id")
        .values_list("account_id", "status")
    )
    statuses.update(dict(rows))
    return statuses


# --- People (accounts.people): ``account=None`` is the vendor staff ---------------------------


def people_of(*, account: Account | None) -> QuerySet[User]:
    """The scope's people, active first, then by username."""
    people = User.objects.filter(account=account) if account else User.objects.filter(role__in=VENDOR_ROLES)
    return people.order_by("-is_active", "username")


def person_get_for_scope(*, account: Account | None, user_id: int) -> User:
    """One of the scope's people, or 404 when missing *or* someone else's — one answer for both."""
    person = people_of(account=account).filter(pk=user_id).first()
    if person is None:
        raise Http404("No such person.")
    return person


def invitations_open_of(*, account: Account | None) -> QuerySet[Invitation]:
    """Invitations neither accepted nor revoked (expired ones too: they can be sent again)."""
    return Invitation.objects.filter(account=account, accepted_at__isnull=True, revoked_at__isnull=True).select_related(
        "invited_by"
    )


def invitation_get_for_scope(*, account: Account | None, invitation_id: int) -> Invitation:
    """One of the scope's invitations, or 404 when missing *or* someone else's."""
    invitation = Invitation.objects.filter(account=account, pk=invitation_id).first()
    if invitation is None:
        raise Http404("No such invitation.")
    return invitation


def people_changes_of(*, account: Account | None) -> QuerySet[PeopleChange]:
    """The scope's record of changes, newest first."""
    return PeopleChange.objects.filter(account=account)
