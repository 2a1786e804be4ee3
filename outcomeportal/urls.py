"""URLs: the portal (HTML), the API v1 and its documentation, the admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from accounts import api as accounts_api
from accounts import people_api
from accounts import views as accounts_views
from billing import api as billing_api
from billing import events_api
from billing.credits import api as credit_api
from billing.delivery import api as delivery_api
from billing.invoices import api as invoice_api
from billing.moneylog import api as moneylog_api
from billing.receivables import api as receivables_api
from billing.spend import api as spend_api
from billing.whatif import api as whatif_api
from disputes import api as disputes_api
from finance import api as finance_api
from metering import api as metering_api
from outcomeportal import views
from outcomeportal.api import docs
from outcomeportal.api.keys import SigningKeysView

api_v1 = [
    path("accounts", accounts_api.AccountListView.as_view(), name="accounts"),
    path("accounts/<str:external_id>", accounts_api.AccountDetailView.as_view(), name="account"),
    path("accounts/<str:external_id>/lifecycle", finance_api.AccountLifecycleView.as_view(), name="account-lifecycle"),
    path("accounts/<str:external_id>/webhooks", accounts_api.WebhookListView.as_view(), name="account-webhooks"),
    path(
        "accounts/<str:external_id>/webhooks/<int:webhook_id>",
        accounts_api.WebhookDetailView.as_view(),
        name="account-webhook",
    ),
    # accounts: an account's people and invitations (accounts.people)
    path("accounts/<str:external_id>/users", people_api.UserListView.as_view(), name="account-users"),
    path("accounts/<str:external_id>/users/<int:user_id>", people_api.UserDetailView.as_view(), name="account-user"),
    path(
        "accounts/<str:external_id>/invitations",
        people_api.InvitationListView.as_view(),
        name="account-invitations",
    ),
    path(
        "accounts/<str:external_id>/invitations/<int:invitation_id>",
        people_api.InvitationDetailView.as_view(),
        name="account-invitation",
    ),
    path(
        "accounts/<str:external_id>/invitations/<int:invitation_id>/resend",
        people_api.InvitationResendView.as_view(),
        name="account-invitation-resend",
    ),
    path("outcome-types", metering_api.OutcomeTypeListView.as_view(), name="outcome-types"),
    path("outcome-types/<slug:code>", metering_api.OutcomeTypeDetailView.as_view(), name="outcome-type"),
    path("outcome-types/<slug:code>/costs", metering_api.OutcomeCostView.as_view(), name="outcome-type-costs"),
    path("outcome-types/<slug:code>/criteria", metering_api.CriteriaView.as_view(), name="outcome-type-criteria"),
    # events: metering's facts and decisions with billing's charges (billing.events_api)
    path("events", events_api.EventsView.as_view(), name="events"),
    # event_id may hold "/" (sent as %2F): the signals, deductions and certificate routes are tried first.
    path("events/<str:account>/<path:event_id>/signals", events_api.SignalView.as_view(), name="event-signals"),
    path(
        "events/<str:account>/<path:event_id>/deductions",
        invoice_api.DeductionsView.as_view(),
        name="event-deductions",
    ),
    path(
        "events/<str:account>/<path:event_id>/certificate",
        events_api.EventCertificateView.as_view(),
        name="event-certificate",
    ),
    path("events/<str:account>/<path:event_id>", events_api.EventDetailView.as_view(), name="event"),
    # billing: contracts, invoices, credit notes
    path("accounts/<str:external_id>/contract", billing_api.ContractView.as_view(), name="account-contract"),
    path(
        "accounts/<str:external_id>/contract/preview",
        whatif_api.ContractPreviewView.as_view(),
        name="account-contract-preview",
    ),
    path("invoices", billing_api.InvoiceListView.as_view(), name="invoices"),
    path("invoices/<int:invoice_id>", billing_api.InvoiceDetailView.as_view(), name="invoice"),
    path(
        "invoices/<int:invoice_id>/lines/<int:line_id>/events",
        billing_api.InvoiceLineEventsView.as_view(),
        name="invoice-line-events",
    ),
    path("credit-notes", billing_api.CreditNoteListView.as_view(), name="credit-notes"),
    path(
        "invoices/<int:invoice_id>/credit-notes",
        invoice_api.InvoiceCreditNotesView.as_view(),
        name="invoice-credit-notes",
    ),
    path("invoices/<int:invoice_id>/void", invoice_api.InvoiceVoidView.as_view(), name="invoice-void"),
    path("deliveries", delivery_api.DeliveryListView.as_view(), name="deliveries"),
    # billing: payments, write-offs and a payment processor's signed webhook
    path("invoices/<int:invoice_id>/payments", receivables_api.InvoicePaymentsView.as_view(), name="invoice-payments"),
    path(
        "invoices/<int:invoice_id>/uncollectible",
        receivables_api.InvoiceUncollectibleView.as_view(),
        name="invoice-uncollectible",
    ),
    path("payments/webhook", receivables_api.PaymentWebhookView.as_view(), name="payments-webhook"),
    path("payments/stripe", receivables_api.StripeWebhookView.as_view(), name="payments-stripe"),
    # billing: spend controls and the account status the vendor's platform polls
    path("accounts/<str:external_id>/status", spend_api.AccountStatusView.as_view(), name="account-status"),
    path("accounts/<str:external_id>/spend-controls", spend_api.SpendControlsView.as_view(), name="spend-controls"),
    # billing: the prepaid credit balance and its ledger
    path("accounts/<str:external_id>/credits", credit_api.AccountCreditsView.as_view(), name="account-credits"),
    path("accounts/<str:external_id>/topups", credit_api.TopUpsView.as_view(), name="account-topups"),
    # disputes: filing, reading, resolving
    # finance: the vendor's figures (finance.read)
    path("finance/attainment", finance_api.AttainmentView.as_view(), name="finance-attainment"),
    path("finance/margin", finance_api.MarginView.as_view(), name="finance-margin"),
    path("finance/revenue", finance_api.RevenueView.as_view(), name="finance-revenue"),
    path("finance/scenarios", finance_api.ScenariosView.as_view(), name="finance-scenarios"),
    path("disputes", disputes_api.DisputeListView.as_view(), name="disputes"),
    path("disputes/<int:dispute_id>", disputes_api.DisputeDetailView.as_view(), name="dispute"),
    path("disputes/<int:dispute_id>/resolve", disputes_api.DisputeResolveView.as_view(), name="dispute-resolve"),
    # billing: the money log, verified (vendor operators)
    path("ledger/verify", moneylog_api.LedgerVerifyView.as_view(), name="ledger-verify"),
]

urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The public keys that sign decision certificates (outcomeportal.signing), for anyone to verify with.
    path(".well-known/outcomeportal-keys.json", SigningKeysView.as_view(), name="signing-keys"),
    path("accounts/", include("accounts.urls")),
    path("", include("accounts.people_urls")),
    path("", include("billing.audit.urls")),
    path("", include("billing.spend.urls")),
    path("", include("billing.credits.urls")),
    path("", include("billing.urls")),
    path("", include("billing.plans.urls")),
    path("", include("billing.delivery.urls")),
    path("", include("billing.receivables.urls")),
    path("", include("billing.renewals.urls")),
    path("", include("disputes.urls")),
    path("", include("finance.urls")),
    path("", include("metering.urls")),  # the outcome catalogue (vendor staff)
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", docs.swagger_ui, name="api-docs"),  # Swagger UI and Redoc: outcomeportal/api/docs.py
    path("api/redoc/", docs.redoc, name="api-redoc"),
    path("admin/login/", accounts_views.admin_login),  # one sign-in, with its guard and second step
    path("admin/", admin.site.urls),
]

handler400 = "outcomeportal.views.bad_request"
handler403 = "outcomeportal.views.permission_denied"
handler404 = "outcomeportal.views.page_not_found"
handler500 = "outcomeportal.views.server_error"
