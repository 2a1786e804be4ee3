from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import people_views, views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.login_verify, name="login_verify"),
    path("two-factor/", views.two_factor_settings, name="two_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    # people: invitations and password reset by email (accounts.people)
    path("invitation/<str:token>/", people_views.invitation_accept, name="invitation_accept"),
    path("password-reset/", people_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", people_views.PasswordResetSentView.as_view(), name="password_reset_sent"),
    path(
        "password-reset/<uidb64>/<token>/",
        people_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", people_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
]
