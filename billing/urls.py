"""Portal URLs of invoicing: account pages carry the account's external ID, like metering's."""

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("account/<str:account>/invoices/", views.invoices, name="invoices"),
    path("account/<str:account>/invoices/<int:invoice_id>/", views.invoice_detail, name="invoice"),
    path("account/<str:account>/invoices/<int:invoice_id>/print/", views.invoice_print, name="invoice_print"),
    path("account/<str:account>/invoices/<int:invoice_id>/invoice.pdf", views.invoice_pdf, name="invoice_pdf"),
    path(
        "account/<str:account>/invoices/<int:invoice_id>/lines.csv", views.invoice_lines_csv, name="invoice_lines_csv"
    ),
    path(
        "account/<str:account>/invoices/<int:invoice_id>/events.csv",
        views.invoice_events_csv,
        name="invoice_events_csv",
    ),
    path(
        "account/<str:account>/invoices/<int:invoice_id>/lines/<int:line_id>/", views.invoice_line, name="invoice_line"
    ),
    path("account/<str:account>/credit-notes/<int:credit_note_id>.pdf", views.credit_note_pdf, name="credit_note_pdf"),
    path("vendor/invoices/<int:invoice_id>/void/", views.invoice_void, name="invoice_void"),
    path("account/<str:account>/plan/", views.plan, name="plan"),
    path("account/<str:account>/billing-details/", views.billing_details, name="billing_details"),
    path("account/<str:account>/contract/", views.contract, name="contract"),
]
