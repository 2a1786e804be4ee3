"""Vendor pages of delivery: the log of invoice and credit-note emails and webhooks."""

from django.urls import path

from billing.delivery import views

app_name = "billing_delivery"
urlpatterns = [
    path("vendor/deliveries/", views.deliveries, name="deliveries"),
    path("vendor/deliveries/<int:delivery_id>/resend/", views.delivery_resend, name="resend"),
]
