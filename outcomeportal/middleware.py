"""Request guards that apply to every page and endpoint."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest

from outcomeportal.views import page_not_found


class RejectNulCharactersMiddleware:
    """400 (the project's handler400: the API's error body, or the HTML page) for a NUL in the URL.

    PostgreSQL text cannot hold NUL, so a lookup with one would fail in the database (a 500)
    instead of answering "no such thing"; no identifier or filter value can contain one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path or any(
            "\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()
        ):
            raise BadRequest("A NUL character in the URL.")
        return self.get_response(request)


class PortalNotFoundMiddleware:
    """The portal's 404 page (the API's error body under /api/) even with ``DEBUG`` on.

    With DEBUG, Django answers a URL that matches nothing, or a view's ``Http404``, with its technical
    page — which lists every URL pattern of the site. Only that page is replaced: a 404 the portal
    or the API wrote itself is left as it is.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.DEBUG and response.status_code == 404 and _technical(response):
            return page_not_found(request)
        return response


def _technical(response) -> bool:
    return not getattr(response, "streaming", False) and b"<code>DEBUG = True</code>" in response.content
