"""Portal URLs of prepaid credits (the Credits section of the spend page posts here)."""

from django.urls import path

from billing.spend import views as spend_views

app_name = "billing_credits"
urlpatterns = [
    path("account/<str:account>/spend/credits/topup", spend_views.credits_topup, name="topup"),
]
