"""People: who may sign in to a customer account or to the vendor side, and with which role.

The rules, in one place (the pages in ``accounts.people_views`` only call these):

* **Scopes.** A customer account's people hold customer roles; vendor staff (``account=None``)
  hold vendor roles — the same shape as :class:`~accounts.models.User`'s check constraint. A
  customer admin manages their own account's people; a vendor operator any account's, and the
  vendor staff.
* **An admin always remains.** The last active admin of a scope (a customer admin of an account;
  a vendor operator of the vendor side) can be neither demoted nor deactivated. Every change
  first takes the scope's lock (a transaction-level advisory lock on the account, or on 0 for
  vendor staff), then counts the admins: two admins demoting each other at the same moment queue
  behind the lock, and the second finds itself the last one.
* **Deactivation ends sessions at once.** The person's ``session_epoch`` goes up, which changes
  the hash every session of theirs carries, so each ends at its next request — on every device,
  and for good: reactivating does not bring an old session back. API keys belong to the account,
  not to the person who created them, and stay (revoke them on the API keys page if needed).
* **Invitations** are emailed links carrying a token signed with ``SECRET_KEY`` over the
  invitation and its nonce. A link works once (acceptance is a conditional update), until
  ``INVITATION_MAX_AGE_DAYS`` after it was sent, and only while it is the latest: sending again
  draws a new nonce and a new expiry. A revoked invitation's link is dead.
* **Password reset** by email (Django's token: one use — it hashes the password it replaces —
  and ``PASSWORD_RESET_TIMEOUT`` seconds). A request gets the same answer whether or not the
  address belongs to anyone; the email goes out from the worker, so the answer takes as long
  either way; and each address and each client address may ask only so often per window
  (``PASSWORD_RESETS_PER_EMAIL``, ``PASSWORD_RESETS_PER_ADDRESS``), beyond which nothing is sent.
* **Every change is recorded**: a :class:`~accounts.models.PeopleChange` row says who did what to
  whom, and when. ``actor`` is the person acting; when an API key acts, ``actor`` is ``None`` and
  ``actor_name`` names the key.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_q.tasks import async_task

from accounts import ratelimit
from accounts.login_guard import login_failures_forget
from accounts.models import CUSTOMER_ROLES, VENDOR_ROLES, Account, Invitation, PeopleChange, Role, User
from accounts.services import vendor_get_default

_PEOPLE_LOCK = 0x0BE0B  # advisory lock namespace: (namespace, account id), 0 for vendor staff
_SIGNING_NAMESPACE = "accounts.people.invitation"  # the signer's salt


class PeopleRefused(Exception):
    """A change the rules refuse; the message is written for the person who asked."""


class LastAdmin(PeopleRefused):
    pass


class UsernameTaken(PeopleRefused):
    pass


class InvitationInvalid(Exception):
    """An invitation link that cannot be used; ``reason`` says why, ``message`` says it to people."""

    MESSAGES = {
        "invalid": "This invitation link is not valid. Check that you copied the whole link.",
        "superseded": "A newer invitation was sent to you: use the link in the latest email.",
        "expired": "This invitation has expired. Ask whoever invited you to send it again.",
        "used": "This invitation was used already. Log in with the username you chose.",
        "revoked": "This invitation was withdrawn. Ask whoever invited you if you still need access.",
    }

    def __init__(self, reason: str):
        super().__init__(self.MESSAGES[reason])
        self.reason = reason
        self.message = self.MESSAGES[reason]


# --- Scopes --------------------------------------------------------------------------------


def roles_for(*, account: Account | None) -> tuple[Role, ...]:
    """The roles people of this scope may hold."""
    return CUSTOMER_ROLES if account is not None else VENDOR_ROLES


def admin_role_for(*, account: Account | None) -> Role:
    """The role whose last holder must stay."""
    return Role.CUSTOMER_ADMIN if account is not None else Role.VENDOR_OPERATOR


def _role_label(role: str) -> str:
    return dict(Role.choices).get(role, role)


def _scope_lock(account: Account | None) -> None:
    """Serialise people changes of one scope until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PEOPLE_LOCK, account.pk if account else 0])


def _in_scope(account: Account | None):
    return User.objects.filter(account=account) if account else User.objects.filter(role__in=VENDOR_ROLES)


def _person_locked(account: Account | None, user_id: int) -> User:
    person = _in_scope(account).select_for_update().filter(pk=user_id).first()
    if person is None:  # the view looked it up in the scope already: this is a programming error
        raise PeopleRefused("No such person here.")
    return person


def _keep_an_admin(account: Account | None, leaving: User) -> None:
    """Refuse when ``leaving`` is the scope's last active admin (call under the scope's lock)."""
    admin = admin_role_for(account=account)
    others = _in_scope(account).filter(role=admin, is_active=True).exclude(pk=leaving.pk)
    if not others.exists():
        who = "customer admin of this account" if account else "vendor operator"
        raise LastAdmin(f"{leaving.username} is the last {who}: make someone else one first.")


def _record(
    *,
    account: Account | None,
    actor: User | None,
    actor_name: str = "",
    action: str,
    subject: str,
    subject_user: User | None = None,
    detail: str = "",
    now: datetime,
) -> PeopleChange:
    return PeopleChange.objects.create(
        account=account,
        at=now,
        actor=actor,
        actor_name=(actor.username if actor else actor_name)[:150],
        action=action,
        subject=subject,
        subject_user=subject_user,
        detail=detail[:200],
    )


# --- Members -------------------------------------------------------------------------------


def person_role_change(
    *,
    actor: User | None,
    account: Account | None,
    user_id: int,
    role: str,
    actor_name: str = "",
    now: datetime | None = None,
) -> User:
    """Give a person of the scope another role of the scope; the last admin keeps theirs."""
    if role not in roles_for(account=account):
        raise PeopleRefused(f"{_role_label(role)} is not a role here.")
    now = now or timezone.now()
    with transaction.atomic():
        _scope_lock(account)
        person = _person_locked(account, user_id)
        if person.role == role:
            return person
        if person.role == admin_role_for(account=account) and person.is_active:
            _keep_an_admin(account, leaving=person)
        old = person.role
        person.role = role
        person.save(update_fields=["role"])
        _record(
            account=account,
            actor=actor,
            actor_name=actor_name,
            action=PeopleChange.Action.ROLE_CHANGED,
            subject=person.username,
            subject_user=person,
            detail=f"{_role_label(old)} → {_role_label(role)}",
            now=now,
        )
    return person


def person_deactivate(
    *, actor: User | None, account: Account | None, user_id: int, actor_name: str = "", now: datetime | None = None
) -> User:
    """Stop a person signing in, and end every session they have; the last admin stays."""
    now = now or timezone.now()
    with transaction.atomic():
        _scope_lock(account)
        person = _person_locked(account, user_id)
        if not person.is_active:
            return person
        if person.role == admin_role_for(account=account):
            _keep_an_admin(account, leaving=person)
        _in_scope(account).filter(pk=person.pk).update(is_active=False, session_epoch=F("session_epoch") + 1)
        person.refresh_from_db()
        _record(
            account=account,
            actor=actor,
            actor_name=actor_name,
            action=PeopleChange.Action.DEACTIVATED,
            subject=person.username,
            subject_user=person,
            detail=_role_label(person.role),
            now=now,
        )
    return person


def person_reactivate(
    *, actor: User | None, account: Account | None, user_id: int, actor_name: str = "", now: datetime | None = None
) -> User:
    """Let a deactivated person sign in again (with their password; old sessions stay ended)."""
    now = now or timezone.now()
    with transaction.atomic():
        _scope_lock(account)
        person = _person_locked(account, user_id)
        if person.is_active:
            return person
        person.is_active = True
        person.save(update_fields=["is_active"])
        _record(
            account=account,
            actor=actor,
            actor_name=actor_name,
            action=PeopleChange.Action.REACTIVATED,
            subject=person.username,
            subject_user=person,
            detail=_role_label(person.role),
            now=now,
        )
    return person


# --- Invitations ---------------------------------------------------------------------------


def _max_age() -> timedelta:
    return timedelta(days=settings.INVITATION_MAX_AGE_DAYS)


def _send_later(invitation: Invitation, base_url: str) -> None:
    transaction.on_commit(lambda: async_task("accounts.tasks.invitation_email", invitation.pk, base_url))


def invitation_create(
    *,
    actor: User | None,
    account: Account | None,
    email: str,
    role: str,
    base_url: str,
    actor_name: str = "",
    now: datetime | None = None,
) -> Invitation:
    """Invite ``email`` to the scope with ``role``; the email goes out after commit.

    Refused when the address is already one of the scope's people, or has an open invitation
    (send that one again instead).
    """
    email = email.strip().lower()
    if role not in roles_for(account=account):
        raise PeopleRefused(f"{_role_label(role)} is not a role here.")
    now = now or timezone.now()
    with transaction.atomic():
        _scope_lock(account)
        member = _in_scope(account).filter(email__iexact=email).first()
        if member is not None:
            state = "" if member.is_active else " (deactivated: reactivate them instead)"
            raise PeopleRefused(f"{email} is already here as {member.username}{state}.")
        if Invitation.objects.filter(
            account=account, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).exists():
            raise PeopleRefused(f"{email} has an open invitation already: send that one again.")
        invitation = Invitation.objects.create(
            account=account,
            email=email,
            role=role,
            nonce=secrets.token_hex(16),
            invited_by=actor,
            created_at=now,
            sent_at=now,
            send_count=1,
            expires_at=now + _max_age(),
        )
        _record(
            account=account,
            actor=actor,
            actor_name=actor_name,
            action=PeopleChange.Action.INVITED,
            subject=email,
            detail=f"as {_role_label(role)}",
            now=now,
        )
        _send_later(invitation, base_url)
    return invitation


def _open_locked(account: Account | None, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.select_for_update()
        .filter(pk=invitation_id, account=account, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None:
        raise PeopleRefused("That invitation was accepted or revoked already.")
    return invitation


def invitation_resend(
    *,
    actor: User | None,
    account: Account | None,
    invitation_id: int,
    base_url: str,
    actor_name: str = "",
    now: datetime | None = None,
) -> Invitation:
    """Send an open invitation again: a new link with a new expiry; earlier links stop working."""
    now = now or timezone.now()
    with transaction.atomic():
        _scope_lock(account)
        invitation = _open_locked(account, invitation_id)
        invitation.nonce = secrets.token_hex(16)
        invitation.sent_at = now
        invitation.send_count += 1
        invitation.expires_at = now + _max_age()
        invitation.save(update_fields=["nonce", "sent_at", "send_count", "expires_at"])
        _record(
            account=account,
            actor=actor,
            actor_name=actor_name,
            action=PeopleChange.Action.INVITATION_RESENT,
            subject=invitation.email,
            detail=f"as {_role_label(invitation.role)}",
            now=now,
        )
        _send_later(invitation, base_url)
    return invitation


def invitation_revoke(
    *,
    actor: User | None,
    account: Account | None,
    invitation_id: int,
    actor_name: str = "",
    now: datetime | None = None,
) -> Invitation:
    """Withdraw an open invitation: its link stops working."""
    now = now or timezone.now()
    with transaction.atomic():
        _scope_lock(account)
        invitation = _open_locked(account, invitation_id)
        invitation.revoked_at = now
        invitation.save(update_fields=["revoked_at"])
        _record(
            account=account,
            actor=actor,
            actor_name=actor_name,
            action=PeopleChange.Action.INVITATION_REVOKED,
            subject=invitation.email,
            now=now,
        )
    return invitation


def invitation_token(invitation: Invitation) -> str:
    """The token of the invitation's current link."""
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=_SIGNING_NAMESPACE)


def invitation_from_token(*, token: str, now: datetime | None = None) -> Invitation:
    """The open invitation a link's token names; :class:`InvitationInvalid` with the reason otherwise."""
    now = now or timezone.now()
    try:
        data = signing.loads(token, salt=_SIGNING_NAMESPACE, max_age=_max_age())
    except signing.SignatureExpired:
        raise InvitationInvalid("expired")
    except signing.BadSignature:
        raise InvitationInvalid("invalid")
    if not isinstance(data, dict) or not isinstance(data.get("i"), int) or not isinstance(data.get("n"), str):
        raise InvitationInvalid("invalid")
    invitation = Invitation.objects.select_related("account", "invited_by").filter(pk=data["i"]).first()
    if invitation is None:
        raise InvitationInvalid("invalid")
    if invitation.accepted_at is not None:
        raise InvitationInvalid("used")
    if invitation.revoked_at is not None:
        raise InvitationInvalid("revoked")
    if not constant_time_compare(invitation.nonce, data["n"]):
        raise InvitationInvalid("superseded")
    if invitation.expires_at <= now:
        raise InvitationInvalid("expired")
    return invitation


def invitation_accept(
    *, token: str, username: str, password: str, first_name: str = "", last_name: str = "", now: datetime | None = None
) -> User:
    """Create the invited person with the password they chose; the link is used up.

    The password is expected to have passed the validators already (the form does it).
    """
    now = now or timezone.now()
    invitation = invitation_from_token(token=token, now=now)
    with transaction.atomic():
        _scope_lock(invitation.account)
        claimed = Invitation.objects.filter(
            pk=invitation.pk,
            nonce=invitation.nonce,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        ).update(accepted_at=now)
        if not claimed:  # used, revoked or sent again in the meantime: say which
            invitation_from_token(token=token, now=now)
            raise InvitationInvalid("used")
        if User.objects.filter(username__iexact=username).exists():
            raise UsernameTaken(f"The username {username} is taken: choose another.")
        try:
            with transaction.atomic():
                person = User.objects.create_user(
                    username=username,
                    email=invitation.email,
                    password=password,
                    role=invitation.role,
                    account=invitation.account,
                    first_name=first_name,
                    last_name=last_name,
                )
        except IntegrityError:  # the same username taken at the same moment
            raise UsernameTaken(f"The username {username} is taken: choose another.")
        Invitation.objects.filter(pk=invitation.pk).update(accepted_user=person)
        invited_by = invitation.invited_by.username if invitation.invited_by else "someone since removed"
        _record(
            account=invitation.account,
            actor=person,
            action=PeopleChange.Action.INVITATION_ACCEPTED,
            subject=person.username,
            subject_user=person,
            detail=f"{invitation.email} as {_role_label(invitation.role)}, invited by {invited_by}",
            now=now,
        )
    return person


def invitation_email(*, invitation_id: int, base_url: str) -> int:
    """Email an open invitation's current link (the worker runs this); returns 1 if sent."""
    invitation = (
        Invitation.objects.select_related("account", "invited_by")
        .filter(pk=invitation_id, accepted_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if invitation is None:
        return 0
    where = invitation.account.name if invitation.account else f"{vendor_get_default().name} (vendor staff)"
    where = " ".join(where.split())  # a name is one line in a subject, whatever was typed
    context = {
        "invitation": invitation,
        "where": where,
        "role": _role_label(invitation.role),
        "inviter": invitation.invited_by.get_full_name() or invitation.invited_by.username
        if invitation.invited_by
        else "",
        "link": base_url.rstrip("/") + reverse("accounts:invitation_accept", args=[invitation_token(invitation)]),
    }
    send_mail(
        f"You are invited to {where} on OutcomePortal",
        render_to_string("accounts/email/invitation.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [invitation.email],
    )
    return 1


# --- Password reset ------------------------------------------------------------------------


def _reset_counters(email: str, address: str) -> list[tuple[str, int]]:
    return [
        (f"pw-reset:addr:{address[:64]}", settings.PASSWORD_RESETS_PER_ADDRESS),
        (f"pw-reset:email:{email[:200]}", settings.PASSWORD_RESETS_PER_EMAIL),
    ]


def password_reset_request(*, email: str, address: str, base_url: str) -> int:
    """Ask for reset links to ``email``; returns how many were queued (the caller must not say).

    Each request takes a slot per client address and per email address, whether or not anyone
    has that email; past either limit nothing is sent. Links go to active people with a password.
    """
    email = email.strip().lower()
    for key, limit in _reset_counters(email, address):
        if not ratelimit.hit(key, limit=limit, window=settings.PASSWORD_RESET_WINDOW_SECONDS).allowed:
            return 0
    people = [p for p in User.objects.filter(email__iexact=email, is_active=True) if p.has_usable_password()]
    for person in people:
        transaction.on_commit(lambda pk=person.pk: async_task("accounts.tasks.password_reset_email", pk, base_url))
    return len(people)


def password_reset_email(*, user_id: int, base_url: str) -> int:
    """Email one person a reset link (the worker runs this; the token is made here, never queued)."""
    person = User.objects.filter(pk=user_id, is_active=True).first()
    if person is None or not person.email or not person.has_usable_password():
        return 0
    uidb64 = urlsafe_base64_encode(force_bytes(person.pk))
    token = default_token_generator.make_token(person)
    path = reverse("accounts:password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    context = {
        "person": person,
        "link": base_url.rstrip("/") + path,
        "minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }
    send_mail(
        "Reset your OutcomePortal password",
        render_to_string("accounts/email/password_reset.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [person.email],
    )
    return 1


def password_reset_completed(*, person: User, address: str, now: datetime | None = None) -> PeopleChange:
    """``person`` set a new password through a reset link: the sign-in guard forgets the failures
    counted for their username (the guesses were at the old password), and the change is noted."""
    login_failures_forget(username=person.username, address=address)
    return _record(
        account=person.account,
        actor=person,
        action=PeopleChange.Action.PASSWORD_RESET,
        subject=person.username,
        subject_user=person,
        now=now or timezone.now(),
    )
