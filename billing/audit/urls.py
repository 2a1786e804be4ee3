"""Portal URLs of the audit pages. Account pages carry the account's external ID in the path, so
every page can be bookmarked and shared; vendor staff move between accounts by URL."""

from django.urls import path

from billing.audit import deductions, views

app_name = "audit"
urlpatterns = [
    path("overview/", views.overview, name="overview"),
    path("switch/", views.account_switch, name="switch"),
    path("account/<str:account>/", views.dashboard, name="dashboard"),
    path("account/<str:account>/events/", views.events, name="events"),
    # The table's column choice and saved views: not under events/, where any text is an event ID.
    path("account/<str:account>/audit-columns/", views.events_columns, name="events_columns"),
    path("account/<str:account>/audit-views/", views.events_view_save, name="events_view_save"),
    path(
        "account/<str:account>/audit-views/<int:view_id>/delete/", views.events_view_delete, name="events_view_delete"
    ),
    path("account/<str:account>/events.csv", views.events_export, name="events_export"),
    path("account/<str:account>/events/<path:event_id>", views.event_detail, name="event_detail"),
    path("account/<str:account>/deductions/<path:event_id>", deductions.event_deduct, name="event_deduct"),
    path("account/<str:account>/not-charged/", views.charging_terms, name="charging_terms"),
]
