"""Portal pages of accounts: sign-in (password, then a one-time code where needed), two-factor
settings, and API keys (created here, shown once)."""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import two_factor
from accounts.access import Perm
from accounts.client_address import client_address
from accounts.login_guard import login_attempt_start, login_attempt_succeeded
from accounts.models import CUSTOMER_ROLES, Account, ApiKey, Role, User
from accounts.permissions import principal_of
from accounts.services import api_key_create, api_key_revoke

TOO_MANY_ATTEMPTS = "Too many failed sign-ins. Try again in a few minutes (at most a quarter of an hour)."
PENDING_SESSION_KEY = "login_pending"  # who gave the right password, waiting for the second step
PENDING_SECONDS = 5 * 60
ENROL_SESSION_KEY = "two_factor_new_key"  # the secret being enrolled, until a code from it is typed


def _address(request) -> str:
    return client_address(request.META, trusted_proxies=settings.TRUSTED_PROXIES)


class GuardedAuthenticationForm(AuthenticationForm):
    """The login form: each attempt takes a slot of the sign-in guard before the password is checked
    (accounts.login_guard); past the limits no password is checked."""

    error_messages = {**AuthenticationForm.error_messages, "too_many_attempts": TOO_MANY_ATTEMPTS}

    def clean(self):
        username, password = self.cleaned_data.get("username"), self.cleaned_data.get("password")
        if not username or not password:
            return super().clean()
        attempt = login_attempt_start(username=username, address=_address(self.request))
        if attempt is None:
            raise forms.ValidationError(self.error_messages["too_many_attempts"], code="too_many_attempts")
        cleaned = super().clean()  # raises for a wrong password or an inactive user: the slot stays taken
        login_attempt_succeeded(attempt)
        return cleaned


class LoginView(auth_views.LoginView):
    """Step one: the password. Where a second factor is needed, the user is not signed in yet:
    the session remembers who they are for a few minutes, and the code step signs them in."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = GuardedAuthenticationForm

    def form_valid(self, form):
        user = form.get_user()
        self.request.session.pop(ENROL_SESSION_KEY, None)
        if two_factor.totp_device_of(user=user) is None and not two_factor.two_factor_required(user=user):
            self.request.session.pop(PENDING_SESSION_KEY, None)  # an unfinished sign-in of someone else
            return super().form_valid(form)
        self.request.session[PENDING_SESSION_KEY] = {
            "user_id": user.pk,
            "backend": user.backend,
            "since": time.time(),
            "next": self.get_success_url(),
        }
        return redirect("accounts:login_verify")


def _pending(request) -> tuple[User, dict] | None:
    """The user who gave the right password in this session, if that was less than PENDING_SECONDS ago."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not pending or time.time() - pending["since"] > PENDING_SECONDS:
        return None
    user = User.objects.filter(pk=pending["user_id"], is_active=True).first()
    return (user, pending) if user is not None else None


def _sign_in(request, user: User, pending: dict, device) -> HttpResponseRedirect:
    request.session.pop(PENDING_SESSION_KEY, None)
    request.session.pop(ENROL_SESSION_KEY, None)
    user.otp_device = device  # django-otp records the verified device in the session on login
    auth_login(request, user, backend=pending["backend"])
    return HttpResponseRedirect(pending["next"])


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _enrolment(request, user: User) -> dict:
    """The secret being enrolled (kept in the session until confirmed) and how to show it."""
    key = request.session.get(ENROL_SESSION_KEY) or two_factor.totp_new_key()
    request.session[ENROL_SESSION_KEY] = key
    url = two_factor.totp_config_url(user=user, key=key)
    return {"secret": two_factor.totp_secret_text(key), "otpauth_url": url, "qr": two_factor.totp_qr_data_uri(url)}


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def login_verify(request):
    """Step two: the code from the user's authenticator app — or, for staff who must have one and
    have none yet, enrolment first (the QR code and a code from it)."""
    found = _pending(request)
    if found is None:
        request.session.pop(PENDING_SESSION_KEY, None)
        messages.info(request, "Sign in again: the sign-in was not finished in time.")
        return redirect("accounts:login")
    user, pending = found
    enrolling = two_factor.totp_device_of(user=user) is None
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        attempt = login_attempt_start(username=user.username, address=_address(request))
        if attempt is None:
            form.add_error(None, TOO_MANY_ATTEMPTS)
        else:
            code = form.cleaned_data["code"]
            if enrolling:
                device = two_factor.totp_enrol(user=user, key=request.session.get(ENROL_SESSION_KEY, ""), code=code)
            else:
                device = two_factor.totp_verify(user=user, code=code)
            if device is not None:
                login_attempt_succeeded(attempt)
                if enrolling:
                    messages.success(request, "Two-factor sign-in is set up.")
                return _sign_in(request, user, pending, device)
            form.add_error("code", "That code is not right, or was used already. Wait for the next one.")
    context = {"form": form, "enrolling": enrolling, "username": user.username}
    if enrolling:
        context |= _enrolment(request, user)
    return render(request, "accounts/login_verify.html", context, status=400 if form.errors else 200)


@login_required
@sensitive_post_parameters("code")
@never_cache
def two_factor_settings(request):
    """Turn two-factor sign-in on (scan, type a code) or off (type a code); staff who must use it cannot
    turn it off."""
    user = request.user
    device = two_factor.totp_device_of(user=user)
    required = two_factor.two_factor_required(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        attempt = login_attempt_start(username=user.username, address=_address(request))
        code = form.cleaned_data["code"]
        if attempt is None:
            form.add_error(None, TOO_MANY_ATTEMPTS)
        elif device is None:
            if two_factor.totp_enrol(user=user, key=request.session.get(ENROL_SESSION_KEY, ""), code=code):
                login_attempt_succeeded(attempt)
                request.session.pop(ENROL_SESSION_KEY, None)
                messages.success(request, "Two-factor sign-in is on: you will be asked for a code after your password.")
                return redirect("accounts:two_factor")
            form.add_error("code", "That code is not right. Check the app's clock and try the next code.")
        elif required:
            raise PermissionDenied
        elif two_factor.totp_verify(user=user, code=code):
            login_attempt_succeeded(attempt)
            two_factor.two_factor_disable(user=user)
            messages.success(request, "Two-factor sign-in is off.")
            return redirect("accounts:two_factor")
        else:
            form.add_error("code", "That code is not right, or was used already. Wait for the next one.")
    context = {"form": form, "device": device, "required": required}
    if device is None:
        context |= _enrolment(request, user)
    return render(request, "accounts/two_factor.html", context, status=400 if form.errors else 200)


def admin_login(request):
    """The Django admin signs in through the portal's sign-in (its guard and its second step)."""
    query = request.GET.urlencode()
    return HttpResponseRedirect(reverse("accounts:login") + (f"?{query}" if query else ""))


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the key is for, e.g. “CRM sync”.")
    scope = forms.ChoiceField(choices=[("account", "Account key"), ("vendor", "Vendor key")])
    account = forms.ModelChoiceField(queryset=Account.objects.none(), required=False)
    role = forms.ChoiceField(choices=[(r.value, r.label) for r in CUSTOMER_ROLES], initial=Role.VIEWER)

    def __init__(self, *args, principal, **kwargs):
        super().__init__(*args, **kwargs)
        self.principal = principal
        if principal.is_vendor:
            self.fields["account"].queryset = Account.objects.order_by("name")
        else:
            del self.fields["account"]
            self.fields["scope"].choices = [("account", "Account key")]

    def clean(self):
        data = super().clean()
        if self.principal.is_vendor and data.get("scope") == "account" and not data.get("account"):
            self.add_error("account", "Choose the account this key belongs to.")
        return data


def _keys_for(principal):
    keys = ApiKey.objects.select_related("account").order_by("-created_at")
    return keys if principal.is_vendor else keys.filter(account_id=principal.account_id)


@login_required
def api_keys(request):
    principal = principal_of(request)
    if not principal.can(Perm.KEYS_MANAGE):
        raise PermissionDenied
    new_secret = None
    form = ApiKeyForm(request.POST or None, principal=principal)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if principal.is_vendor:
            account = data["account"] if data["scope"] == "account" else None
        else:
            account = request.user.account
        created = api_key_create(
            name=data["name"], account=account, role=data["role"] if account else "", created_by=request.user
        )
        new_secret = created.secret
        messages.success(request, "Key created. Copy it now: it will not be shown again.")
        form = ApiKeyForm(principal=principal)
    return render(
        request, "accounts/api_keys.html", {"form": form, "keys": _keys_for(principal), "new_secret": new_secret}
    )


@login_required
@require_POST
def api_key_revoke_view(request, pk: int):
    principal = principal_of(request)
    if not principal.can(Perm.KEYS_MANAGE):
        raise PermissionDenied
    api_key = get_object_or_404(_keys_for(principal), pk=pk)
    api_key_revoke(api_key=api_key)
    messages.success(request, f"Key {api_key.prefix}… revoked.")
    return redirect("accounts:api_keys")


@login_required
def home(request):
    """Customers land on their account's usage dashboard; vendor staff on the overview."""
    principal = principal_of(request)
    if not principal.is_vendor:
        return redirect("audit:dashboard", request.user.account.external_id)
    if principal.can(Perm.ALL_ACCOUNTS):
        return redirect("audit:overview")
    return render(request, "home.html")
