"""Portal URLs of the People pages: an account's (its external ID in the path) and the vendor staff's.

Both carry the same actions, under the page's own path (accounts.people_views)."""

from django.urls import path

from accounts import people_views as views

app_name = "people"


def _routes(prefix: str, name: str) -> list:
    return [
        path(prefix, views.people_page, name=name),
        path(f"{prefix}invite", views.invite, name=f"{name}_invite"),
        path(f"{prefix}<int:user_id>/role", views.role_change, name=f"{name}_role"),
        path(f"{prefix}<int:user_id>/deactivate", views.deactivate, name=f"{name}_deactivate"),
        path(f"{prefix}<int:user_id>/reactivate", views.reactivate, name=f"{name}_reactivate"),
        path(f"{prefix}invitations/<int:invitation_id>/resend", views.invitation_resend, name=f"{name}_resend"),
        path(f"{prefix}invitations/<int:invitation_id>/revoke", views.invitation_revoke, name=f"{name}_revoke"),
    ]


urlpatterns = _routes("account/<str:account>/people/", "account") + _routes("vendor/people/", "staff")
