"""Portal pages of accounts: API keys (created here, shown once)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import Perm
from accounts.login_guard import login_blocked, login_failed, login_succeeded
from accounts.models import CUSTOMER_ROLES, Account, ApiKey, Role
from accounts.permissions import principal_of
from accounts.services import api_key_create, api_key_revoke


class GuardedAuthenticationForm(AuthenticationForm):
    """The login form, refusing to check passwords after too many failures (accounts.login_guard)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "too_many_attempts": "Too many failed sign-ins. Try again in a few minutes (at most a quarter of an hour).",
    }

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = self.request.META.get("REMOTE_ADDR", "") if self.request else ""
        if login_blocked(username=username, address=address):
            raise forms.ValidationError(self.error_messages["too_many_attempts"], code="too_many_attempts")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            login_failed(username=username, address=address)
            raise
        login_succeeded(username=username, address=address)
        return cleaned


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = GuardedAuthenticationForm


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
