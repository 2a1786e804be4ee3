from django.contrib import admin

from metering.models import Event, OutcomeType, Signal, SuccessCriteria
from metering.services import CRITERIA_RULE_FIELDS, CRITERIA_TEXT_FIELDS, criteria_version_create


class CriteriaInline(admin.TabularInline):
    model = SuccessCriteria
    extra = 0
    can_delete = False
    fields = (
        "version",
        "account",
        "measurement_window_hours",
        "one_per_session",
        "required_verification_methods",
        "created_at",
    )
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutcomeType)
class OutcomeTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "unit_price", "value_type", "active")
    list_filter = ("value_type", "active")
    search_fields = ("code", "name")
    inlines = [CriteriaInline]


@admin.register(SuccessCriteria)
class SuccessCriteriaAdmin(admin.ModelAdmin):
    """Saving a definition here creates a new version; the old one stays (decisions point at it)."""

    list_display = ("__str__", "outcome_type", "account", "version", "measurement_window_hours", "created_at")
    list_filter = ("outcome_type",)
    readonly_fields = ("version", "created_at", "created_by")

    def save_model(self, request, obj, form, change):
        values = {
            f: form.cleaned_data[f] for f in CRITERIA_RULE_FIELDS + CRITERIA_TEXT_FIELDS if f in form.cleaned_data
        }
        created = criteria_version_create(
            outcome_type=form.cleaned_data["outcome_type"],
            account=form.cleaned_data.get("account"),
            created_by=request.user.username,
            **values,
        )
        obj.pk = created.pk
        obj.version = created.version


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "account", "outcome_type", "occurred_at", "status", "non_billable_reason")
    list_filter = ("status", "outcome_type")
    search_fields = ("=event_id", "=session_id")
    show_full_result_count = False
    list_select_related = ("account", "outcome_type")
    raw_id_fields = ("account", "outcome_type", "criteria")

    def has_change_permission(self, request, obj=None):
        return False  # events are immutable records; decisions change through services only

    def has_add_permission(self, request):
        return False


@admin.register(Signal)
class SignalAdmin(admin.ModelAdmin):
    list_display = ("event", "type", "occurred_at", "effect")
    list_filter = ("type", "effect")
    raw_id_fields = ("event", "account")
