from django.contrib import admin

from disputes.models import Dispute, DisputeComment, DisputeCredit, DisputeHistory, DisputeItem, DisputeTerms


@admin.register(DisputeTerms)
class DisputeTermsAdmin(admin.ModelAdmin):
    """An account's SLA for disputes (default: settings.DISPUTES_SLA_HOURS, 48 h)."""

    list_display = ("account", "sla_hours", "updated_at")


class ReadOnly(admin.ModelAdmin):
    """Disputes change through their services only (state machine, history, credits)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Dispute)
class DisputeAdmin(ReadOnly):
    list_display = ("id", "account", "status", "reason_code", "filed_at", "sla_due_at", "credit_state")
    list_filter = ("status", "credit_state", "reason_code")


admin.site.register(DisputeItem, ReadOnly)
admin.site.register(DisputeCredit, ReadOnly)
admin.site.register(DisputeComment, ReadOnly)
admin.site.register(DisputeHistory, ReadOnly)
