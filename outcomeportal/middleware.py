"""Request guards that apply to every page and endpoint."""

from __future__ import annotations

from django.core.exceptions import BadRequest


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
