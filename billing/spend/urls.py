"""Portal URLs of spend controls (account pages carry the account's external ID)."""

from django.urls import path

from billing.spend import views as spend_views

app_name = "billing_spend"
urlpatterns = [
    path("account/<str:account>/spend/", spend_views.spend, name="spend"),
    path("account/<str:account>/spend/controls", spend_views.spend_controls_update, name="update"),
    path("account/<str:account>/spend/preview", spend_views.cap_preview, name="cap_preview"),
    path("account/<str:account>/spend/webhooks", spend_views.webhook_add, name="webhook_add"),
    path("account/<str:account>/spend/webhooks/<int:pk>/toggle", spend_views.webhook_toggle, name="webhook_toggle"),
]
