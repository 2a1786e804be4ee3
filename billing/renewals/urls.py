"""The vendor's renewals page."""

from django.urls import path

from billing.renewals import views

app_name = "billing_renewals"
urlpatterns = [path("vendor/renewals/", views.renewals_page, name="renewals")]
