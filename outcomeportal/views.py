"""Project-level views: health, and error pages (HTML or the API's JSON). No app is imported here:
the landing redirect, which knows roles, is accounts' (``accounts.views.home``)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader

from outcomeportal.api.errors import error_body


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def _error(request, status: int, code: str, message: str, template: str):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body(code, message), status=status)
    return render(request, template, {"message": message}, status=status)


def bad_request(request, exception=None):
    return _error(request, 400, "bad_request", "The request could not be understood.", "errors/400.html")


def permission_denied(request, exception=None):
    return _error(request, 403, "permission_denied", "You are not allowed to see this page.", "errors/403.html")


def page_not_found(request, exception=None):
    return _error(request, 404, "not_found", "There is nothing here.", "errors/404.html")


def csrf_failure(request, reason: str = ""):
    """A form whose CSRF check failed: the portal's 403 page (Django's own is an unstyled debug-like page)."""
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("permission_denied", "CSRF check failed."), status=403)
    return render(request, "errors/403.html", {"csrf_failed": True}, status=403)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."), status=500
        )
    # Without the request's context processors (they look up the user and the session, i.e. the
    # database, which may be what failed), as Django's own handler does.
    return HttpResponse(loader.get_template("errors/500.html").render(), status=500)


def redirect_home(request):
    return redirect("home")
