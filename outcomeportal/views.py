"""Project-level views: health, and error pages (HTML or the API's JSON). No app is imported here:
the landing redirect, which knows roles, is accounts' (``accounts.views.home``)."""

from __future__ import annotations

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render

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


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."), status=500
        )
    return render(request, "errors/500.html", status=500)


def redirect_home(request):
    return redirect("home")
