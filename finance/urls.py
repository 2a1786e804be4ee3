"""Portal URLs of the finance area, under /finance/ (vendor staff with finance.read)."""

from django.urls import path

from finance import views

app_name = "finance"
urlpatterns = [
    path("finance/", views.index, name="index"),
]
