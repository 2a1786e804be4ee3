"""Portal URLs of disputes: an account's disputes under its external ID (like the audit pages);
the vendor's queue and trust metrics under /disputes/."""

from django.urls import path

from disputes import views

app_name = "disputes"
urlpatterns = [
    path("account/<str:account>/disputes/", views.dispute_list, name="list"),
    path("account/<str:account>/disputes/new/", views.dispute_new, name="new"),
    path("account/<str:account>/disputes/<int:dispute_id>/", views.dispute_detail, name="detail"),
    path("account/<str:account>/disputes/<int:dispute_id>/comment", views.dispute_comment, name="comment"),
    path("account/<str:account>/disputes/<int:dispute_id>/assign", views.dispute_assign, name="assign"),
    path("account/<str:account>/disputes/<int:dispute_id>/resolve", views.dispute_resolve, name="resolve"),
    path("disputes/queue/", views.queue, name="queue"),
    path("disputes/trust/", views.trust, name="trust"),
]
