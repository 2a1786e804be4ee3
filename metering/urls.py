"""Portal URLs of the outcome catalogue, under /catalogue/ (vendor staff; writes: catalogue.manage)."""

from django.urls import path

from metering import views

app_name = "catalogue"
urlpatterns = [
    path("catalogue/", views.catalogue, name="index"),
    path("catalogue/new/", views.outcome_type_new, name="outcome_type_new"),
    path("catalogue/types/<slug:code>/", views.outcome_type_detail, name="outcome_type"),
    path("catalogue/types/<slug:code>/criteria/new/", views.criteria_new, name="criteria_new"),
    path("catalogue/types/<slug:code>/costs/", views.outcome_cost_new, name="cost_new"),
]
