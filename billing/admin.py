"""The admin of billing: what operators set by hand (tax rates)."""

from django.contrib import admin

from billing.invoices.models import TaxRate


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    """Tax rates per country or per account (billing.invoices.document): used by invoices finalized
    from now on; an invoice already issued keeps the rate it was issued with."""

    list_display = ("country", "account", "name", "rate", "reverse_charge", "note", "updated_at")
    list_filter = ("reverse_charge", "country")
    search_fields = ("country", "account__external_id", "account__name")
    autocomplete_fields = ()
    raw_id_fields = ("account",)
