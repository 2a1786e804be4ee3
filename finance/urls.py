"""Portal URLs of the finance area, under /finance/ (vendor staff with finance.read)."""

from django.urls import path

from finance import lookahead_views, views

app_name = "finance"
urlpatterns = [
    path("finance/", views.index, name="index"),
    path("finance/attainment/", views.attainment, name="attainment"),
    path("finance/attainment.csv", views.attainment_csv, name="attainment_csv"),
    path("finance/margin/", views.margin, name="margin"),
    path("finance/margin.csv", views.margin_csv, name="margin_csv"),
    path("finance/margin/losses/", views.losses, name="losses"),
    path("finance/revenue/", views.revenue, name="revenue"),
    path("finance/revenue.csv", views.revenue_csv, name="revenue_csv"),
    path("finance/scenarios/", lookahead_views.scenarios_page, name="scenarios"),
    path("finance/scenarios.csv", lookahead_views.scenarios_csv, name="scenarios_csv"),
    path("finance/whatif/", lookahead_views.whatif, name="whatif"),
    path("finance/whatif.csv", lookahead_views.whatif_csv, name="whatif_csv"),
    path("finance/accounts/", views.accounts, name="accounts"),
    path("finance/accounts/<str:account>/lifecycle/", views.account_lifecycle, name="account_lifecycle"),
]
