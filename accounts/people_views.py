"""Portal pages of people (the rules are accounts.people's): an account's People page for its
customer admins and the vendor operators, the vendor staff page for vendor operators, accepting
an invitation, and password reset by email.

The People page's actions answer htmx with the page's panel (re-rendered with the outcome as a
message) and plain posts with a redirect back, so the page works without JavaScript.
"""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import password_validation
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from accounts import people
from accounts.access import Perm
from accounts.client_address import client_address
from accounts.models import Role, User
from accounts.permissions import principal_of
from accounts.selectors import (
    account_get_for_principal,
    invitation_get_for_scope,
    invitations_open_of,
    people_changes_of,
    people_of,
    person_get_for_scope,
)

CHANGES_SHOWN = 50


def _base_url(request) -> str:
    """Where links in emails point: this site, as the request reached it (ALLOWED_HOSTS applies)."""
    return request.build_absolute_uri("/").rstrip("/")


def _address(request) -> str:
    return client_address(request.META, trusted_proxies=settings.TRUSTED_PROXIES)


def _scope(request, account: str | None):
    """The account whose people are managed (``None``: vendor staff), after the checks:
    403 without the right, 404 for another customer's account."""
    principal = principal_of(request)
    if account is None:
        if principal is None or not principal.can(Perm.STAFF_MANAGE):
            raise PermissionDenied
        return None
    if principal is None or not principal.can(Perm.PEOPLE_MANAGE):
        raise PermissionDenied
    return account_get_for_principal(principal=principal, external_id=account)


def _page_url(account) -> str:
    return reverse("people:account", args=[account.external_id]) if account else reverse("people:staff")


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")
    role = forms.ChoiceField(label="Role")

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        roles = people.roles_for(account=account)
        self.fields["role"].choices = [(r.value, r.label) for r in roles]
        self.fields["role"].initial = Role.VIEWER if account else Role.VENDOR_SUPPORT


def _render(request, account, *, invite_form=None, status=200):
    now = timezone.now()
    invitations = list(invitations_open_of(account=account))
    for invitation in invitations:
        invitation.expired = invitation.expires_at <= now
    context = {
        "account": account,
        "portal_account": account,
        "base": _page_url(account),
        "people": people_of(account=account),
        "roles": [(r.value, r.label) for r in people.roles_for(account=account)],
        "admin_role": people.admin_role_for(account=account),
        "invitations": invitations,
        "changes": people_changes_of(account=account)[:CHANGES_SHOWN],
        "invite_form": invite_form or InviteForm(account=account),
        "partial": bool(request.htmx),
        "invitation_days": settings.INVITATION_MAX_AGE_DAYS,
    }
    template = "accounts/people.html#panel" if request.htmx else "accounts/people.html"
    # Times in the account's time zone, as on its other pages; vendor staff read UTC.
    with timezone.override(ZoneInfo(account.timezone) if account else UTC):
        return render(request, template, context, status=status)


def _done(request, account):
    """After an action: the panel for htmx, else back to the page (post, redirect, get)."""
    if request.htmx:
        return _render(request, account)
    return redirect(_page_url(account))


@login_required
@require_GET
def people_page(request, account: str | None = None):
    return _render(request, _scope(request, account))


@login_required
@require_POST
def invite(request, account: str | None = None):
    scope = _scope(request, account)
    form = InviteForm(request.POST, account=scope)
    if form.is_valid():
        email = form.cleaned_data["email"]
        try:
            people.invitation_create(
                actor=request.user, account=scope, email=email, role=form.cleaned_data["role"],
                base_url=_base_url(request),
            )  # fmt: skip
        except people.PeopleRefused as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, f"Invitation sent to {email.strip().lower()}.")
            return _done(request, scope)
    # htmx swaps only 2xx answers: the panel with the form's errors comes back as 200 there.
    return _render(request, scope, invite_form=form, status=200 if request.htmx else 400)


def _act(request, scope, action, success: str):
    try:
        action()
    except people.PeopleRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, success)
    return _done(request, scope)


@login_required
@require_POST
def role_change(request, user_id: int, account: str | None = None):
    scope = _scope(request, account)
    person = person_get_for_scope(account=scope, user_id=user_id)
    role = request.POST.get("role", "")
    label = dict(Role.choices).get(role, role)
    return _act(
        request,
        scope,
        lambda: people.person_role_change(actor=request.user, account=scope, user_id=person.pk, role=role),
        f"{person.username} is now {label}.",
    )


@login_required
@require_POST
def deactivate(request, user_id: int, account: str | None = None):
    scope = _scope(request, account)
    person = person_get_for_scope(account=scope, user_id=user_id)
    return _act(
        request,
        scope,
        lambda: people.person_deactivate(actor=request.user, account=scope, user_id=person.pk),
        f"{person.username} is deactivated and signed out everywhere.",
    )


@login_required
@require_POST
def reactivate(request, user_id: int, account: str | None = None):
    scope = _scope(request, account)
    person = person_get_for_scope(account=scope, user_id=user_id)
    return _act(
        request,
        scope,
        lambda: people.person_reactivate(actor=request.user, account=scope, user_id=person.pk),
        f"{person.username} can sign in again.",
    )


@login_required
@require_POST
def invitation_resend(request, invitation_id: int, account: str | None = None):
    scope = _scope(request, account)
    invitation = invitation_get_for_scope(account=scope, invitation_id=invitation_id)
    return _act(
        request,
        scope,
        lambda: people.invitation_resend(
            actor=request.user, account=scope, invitation_id=invitation.pk, base_url=_base_url(request)
        ),
        f"Invitation sent again to {invitation.email}; the earlier link no longer works.",
    )


@login_required
@require_POST
def invitation_revoke(request, invitation_id: int, account: str | None = None):
    scope = _scope(request, account)
    invitation = invitation_get_for_scope(account=scope, invitation_id=invitation_id)
    return _act(
        request,
        scope,
        lambda: people.invitation_revoke(actor=request.user, account=scope, invitation_id=invitation.pk),
        f"Invitation to {invitation.email} revoked.",
    )


# --- Accepting an invitation ----------------------------------------------------------------


class AcceptForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        validators=[User.username_validator],
        help_text="What you will sign in with. Letters, digits and @ . + - _ only.",
        widget=forms.TextInput(attrs={"autocomplete": "username"}),
    )
    first_name = forms.CharField(max_length=150, required=False, label="First name")
    last_name = forms.CharField(max_length=150, required=False, label="Last name")
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args, invitation, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    def clean(self):
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            candidate = User(
                username=data.get("username", ""), email=self.invitation.email,
                first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
            )  # fmt: skip
            try:
                password_validation.validate_password(first, candidate)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return data


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
def invitation_accept(request, token: str):
    """Set a username and password from an invitation link; then sign in as usual."""
    try:
        invitation = people.invitation_from_token(token=token)
    except people.InvitationInvalid as exc:
        status = 404 if exc.reason == "invalid" else 410
        return render(request, "accounts/invitation_invalid.html", {"message": exc.message}, status=status)
    form = AcceptForm(request.POST or None, invitation=invitation, initial={"username": invitation.email})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = people.invitation_accept(
                token=token, username=data["username"], password=data["password1"],
                first_name=data["first_name"], last_name=data["last_name"],
            )  # fmt: skip
        except people.UsernameTaken as exc:
            form.add_error("username", str(exc))
        except people.InvitationInvalid as exc:
            return render(request, "accounts/invitation_invalid.html", {"message": exc.message}, status=410)
        else:
            messages.success(request, f"Welcome! Your password is set: log in as {person.username}.")
            return redirect("accounts:login")
    where = invitation.account.name if invitation.account else "the vendor staff"
    context = {
        "form": form,
        "invitation": invitation,
        "where": where,
        "role": Role(invitation.role).label,
        "inviter": invitation.invited_by.username if invitation.invited_by else "",
    }
    return render(request, "accounts/invitation_accept.html", context, status=400 if form.errors else 200)


# --- Password reset by email (Django's views, accounts.people's rules) -----------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Ask for a link. Known address or not, within the limits or not: the same answer."""

    template_name = "accounts/password_reset.html"
    success_url = reverse_lazy("accounts:password_reset_sent")

    def form_valid(self, form):
        people.password_reset_request(
            email=form.cleaned_data["email"],
            address=_address(self.request),
            base_url=_base_url(self.request),
        )
        return redirect(self.get_success_url())


class PasswordResetSentView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_sent.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(**kwargs) | {"minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Set a new password from the link (once: the token hashes the password it replaces).
    Every session of the person ends, since their password changed, and the sign-in guard
    forgets the failures counted for them."""

    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        people.password_reset_completed(person=form.user, address=_address(self.request))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"
