from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import Account, ApiKey, Invitation, JobRun, PeopleChange, User, Vendor
from accounts.services import CurrencyInvalid, currency_check


@admin.register(Vendor)
class VendorAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")


class AccountForm(forms.ModelForm):
    class Meta:
        model = Account
        fields = "__all__"  # the admin decides which are shown

    def clean_currency(self) -> str:
        code = self.cleaned_data["currency"]
        if self.instance.pk and code == self.instance.currency:
            return code  # unchanged: an account from before currencies were checked keeps its code
        try:
            return currency_check(code=code)
        except CurrencyInvalid as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ("name", "external_id", "currency", "timezone", "tier", "industry", "use_case")
    list_filter = ("tier", "industry", "currency")
    search_fields = ("name", "external_id")


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    list_display = ("username", "email", "role", "account", "is_active")
    list_filter = ("role", "is_active")
    fieldsets = (*UserAdmin.fieldsets, ("Portal access", {"fields": ("role", "account")}))
    add_fieldsets = (*UserAdmin.add_fieldsets, ("Portal access", {"fields": ("role", "account")}))


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created in the portal or with `manage.py create_api_key` (the secret is shown once)."""

    list_display = ("name", "prefix", "scope", "account", "role", "last_used_at", "revoked_at")
    list_filter = ("scope", "role")
    readonly_fields = ("prefix", "key_hash", "scope", "account", "role", "created_at", "created_by", "last_used_at")
    search_fields = ("name", "prefix")

    def has_add_permission(self, request):
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ("name", "scope", "status", "started_at", "finished_at")
    list_filter = ("name", "status")
    readonly_fields = ("name", "scope", "status", "started_at", "finished_at", "result", "error")


class _ReadOnly(admin.ModelAdmin):
    """Seen here, changed only through accounts.people (the People pages and the API)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invitation)
class InvitationAdmin(_ReadOnly):
    list_display = ("email", "role", "account", "invited_by", "sent_at", "expires_at", "accepted_at", "revoked_at")
    list_filter = ("role",)
    search_fields = ("email",)
    exclude = ("nonce",)


@admin.register(PeopleChange)
class PeopleChangeAdmin(_ReadOnly):
    list_display = ("at", "account", "actor_name", "action", "subject", "detail")
    list_filter = ("action",)
    search_fields = ("subject", "actor_name")
