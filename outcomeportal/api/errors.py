"""The contract's error body for every 4xx: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(exceptions.APIException):
    """Raise from a view with the exact code, message, status and fields the contract wants."""

    def __init__(self, code: str, message: str, status_code: int = 400, fields: dict | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.error_code = code
        self.fields = fields


def exactly_one_of(values, first: str, second: str) -> None:
    """400 unless exactly one of two alternative fields was given (a ``oneOf`` body in the schema)."""
    if (first in values) == (second in values):
        raise ApiError(
            "validation_error", f"Give either {first} or {second}.", 400,
            {first: [f"Either {first} or {second}, not both, not neither."]},
        )  # fmt: skip


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error = {"code": code, "message": message}
    if fields is not None:
        error["fields"] = fields
    return {"error": error}


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}"] = msgs
            elif isinstance(value, list):
                msgs = []
                for item in value:
                    if isinstance(item, dict):
                        for sub, sub_msgs in _flatten(item).items():
                            out[f"{key}.{sub}"] = sub_msgs
                    else:
                        msgs.append(str(item))
                if msgs:
                    out[key] = msgs
            else:
                out[key] = [str(value)]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(d) for d in detail]}
    return {"non_field_errors": [str(detail)]}


def exception_handler(exc, context):
    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, str(exc.detail), exc.fields), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("payload_too_large", "The request body is over the 5 MB limit."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    # Imported here: rest_framework.views loads the parser classes, which import ApiError from
    # this module; importing it at the top made `import outcomeportal.views` circular.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real server error: 500, logged, never details in the body
    code = _CODES.get(response.status_code, "error")
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body("validation_error", "The request has invalid fields.", _flatten(exc.detail))
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body("invalid_json", str(exc.detail))
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        message = str(detail) if not isinstance(detail, (dict, list)) else "Request refused."
        if isinstance(exc, exceptions.Throttled):
            code = "rate_limited"
        response.data = error_body(code, message)
    return response


def json_error(request, status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)
