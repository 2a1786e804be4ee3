from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.login_verify, name="login_verify"),
    path("two-factor/", views.two_factor_settings, name="two_factor"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
]
