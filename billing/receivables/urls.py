"""Vendor pages of collection: receivables, and the payment and write-off forms of an invoice."""

from django.urls import path

from billing.receivables import views

app_name = "billing_receivables"
urlpatterns = [
    path("vendor/receivables/", views.receivables_page, name="receivables"),
    path("vendor/invoices/<int:invoice_id>/payments/", views.payment_record, name="payment_record"),
    path("vendor/invoices/<int:invoice_id>/uncollectible/", views.mark_uncollectible, name="uncollectible"),
]
