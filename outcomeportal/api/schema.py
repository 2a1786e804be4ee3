"""The OpenAPI schema tells the truth: every status an operation can answer, and how our
authentication and fields appear in it (drf-spectacular).

:class:`ApiAutoSchema` adds the error answers every operation shares, by one rule, to the ones its
view declares (``extend_schema(responses=…)``: its success, and a ``409`` where it has one):

=====  =====================================================================================
401    every operation that asks for a key: no key, or a key that is not valid
403    a key or user without the operation's right (and a signed-in browser's unsafe request
       without its CSRF token)
404    an operation with a path parameter or an ``account`` filter: missing, or not yours
400    every operation: a NUL character anywhere in the URL (outcomeportal.middleware); and one that
       reads a body or query parameters: ``validation_error`` with ``fields``, ``invalid_json``,
       ``invalid_cursor``…
413    a body over 5 MB
415    a body that is not declared ``application/json``
406    an ``Accept`` header that asks for anything but JSON
429    every throttled operation: over the rate limit, with ``Retry-After`` (seconds)
=====  =====================================================================================

Every error body is the contract's ``{"error": {"code", "message", "fields"?}}``
(:class:`ErrorBodySerializer`; :mod:`outcomeportal.api.errors` writes it).
"""

from __future__ import annotations

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from outcomeportal.api.fields import RESPONSE_DECIMAL_PATTERN


class ClosedDoc(serializers.Serializer):
    """A body documented as closed (``additionalProperties: false``): for a document its view reads
    by hand and refuses unknown fields in (an event, a contract). DRF serializers ignore unknown
    fields, so theirs stay open."""


class ClosedDocExtension(OpenApiSerializerExtension):
    target_class = ClosedDoc
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A machine word: validation_error, not_found, invalid_cursor…")
    message = serializers.CharField(help_text="A sentence for people.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors only: field name (dotted for nested fields) → messages.",
    )


class ErrorBodySerializer(serializers.Serializer):
    """The body of every 4xx answer."""

    error = ErrorSerializer()


ERROR_DESCRIPTIONS = {
    400: "Invalid request: the error names each invalid field (`validation_error`), or says what else is wrong.",
    401: "No API key, or a key that is not valid (`not_authenticated`).",
    403: "The key or user does not hold this operation's right (`permission_denied`).",
    404: "Not found — or another account's: the answer is the same (`not_found`).",
    406: "The `Accept` header asks for something other than JSON (`not_acceptable`).",
    409: "Conflict with what is stored (the code says which).",
    413: "The body is over the 5 MB limit (`payload_too_large`).",
    415: "The body is not declared `application/json` (`unsupported_media_type`).",
    429: "Over the rate limit (`rate_limited`); retry after `Retry-After` seconds.",
}
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_response(status: int, description: str | None = None) -> OpenApiResponse:
    """The contract's error body, for ``extend_schema(responses={409: error_response(409, "…")})``."""
    return OpenApiResponse(ErrorBodySerializer, description=description or ERROR_DESCRIPTIONS[status])


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with the error answers every operation can give (module docstring)."""

    def _error_statuses(self) -> list[int]:
        statuses = [400, 406]  # 400: a NUL in the URL, whatever the operation
        permissions = self.view.get_permissions()
        public = all(isinstance(p, AllowAny) for p in permissions)  # no key asked for (published keys, webhooks)
        if not public:
            statuses.append(401)
            default_only = all(type(p).__name__ == "IsAuthenticatedPrincipal" for p in permissions)
            if self.method in _UNSAFE or not default_only:  # any valid key may call it, or not
                statuses.append(403)
        if self.view.get_throttles():
            statuses.append(429)
        parameters = self._get_parameters()
        if any(p["in"] == "path" for p in parameters) or any(
            p["in"] == "query" and p["name"] == "account" for p in parameters
        ):
            statuses.append(404)
        if self._reads_body():
            statuses += [413, 415]
        return statuses

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and isinstance(self.get_request_serializer(), PolymorphicProxySerializer):
            body["required"] = True  # "one of these bodies": one is needed (drf-spectacular leaves it optional)
        return body

    def _reads_body(self) -> bool:
        return self.method in ("POST", "PUT", "PATCH") and self._get_request_body() is not None

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in sorted(self._error_statuses()):
            if str(status) in responses:
                continue
            response = self._get_response_for_code(error_response(status), str(status), direction=direction)
            if status == 429:
                response["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer", "minimum": 0},
                        "required": True,
                        "description": "Seconds until the next window opens.",
                    }
                }
            responses[str(status)] = response
        return dict(sorted(responses.items()))


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "`Authorization: Bearer <key>` — a vendor key or an account key (created in the app "
            "or with `manage.py create_api_key`).",
        }


class UniqueListFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "outcomeportal.api.fields.UniqueListField"

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = {"type": "array", "items": auto_schema._map_serializer_field(field.child, direction)}
        if field.min_length is not None:
            schema["minItems"] = field.min_length
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
        schema["uniqueItems"] = True
        return schema


class PatternedCharFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "outcomeportal.api.fields.PatternedCharField"

    def map_serializer_field(self, auto_schema, direction):
        schema = build_basic_type(OpenApiTypes.STR)
        schema["pattern"] = self.target.pattern
        if self.target.max_length is not None:
            schema["maxLength"] = self.target.max_length
        return schema


class Rfc3339FieldExtension(OpenApiSerializerFieldExtension):
    target_class = "outcomeportal.api.fields.Rfc3339Field"

    def map_serializer_field(self, auto_schema, direction):
        return build_basic_type(OpenApiTypes.DATETIME)


class DecimalStringFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "outcomeportal.api.fields.DecimalString"

    def map_serializer_field(self, auto_schema, direction):
        # A request's amount is exactly the grammar the field accepts; a response's may carry a sign.
        pattern = self.target.pattern if direction == "request" else RESPONSE_DECIMAL_PATTERN
        schema = build_basic_type(OpenApiTypes.STR)
        schema.update({"format": "decimal", "pattern": pattern, "example": "0.99"})
        return schema
