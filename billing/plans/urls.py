"""Portal URLs of plans (vendor staff)."""

from django.urls import path

from billing.plans import views

app_name = "plans"
urlpatterns = [
    path("plans/", views.plans, name="index"),
    path("plans/<slug:code>/", views.plan_detail, name="plan"),
    path("plans/<slug:code>/accounts/", views.plan_assign_view, name="assign"),
    path("plans/<slug:code>/accounts/<str:account>/", views.member_view, name="member"),
]
