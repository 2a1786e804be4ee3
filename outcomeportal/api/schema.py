"""drf-spectacular extensions: how our authentication and fields appear in the OpenAPI schema."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_basic_type
from drf_spectacular.types import OpenApiTypes

from outcomeportal.api.fields import RESPONSE_DECIMAL_PATTERN


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


class DecimalStringFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "outcomeportal.api.fields.DecimalString"

    def map_serializer_field(self, auto_schema, direction):
        # A request's amount is exactly the grammar the field accepts; a response's may carry a sign.
        pattern = self.target.pattern if direction == "request" else RESPONSE_DECIMAL_PATTERN
        schema = build_basic_type(OpenApiTypes.STR)
        schema.update({"format": "decimal", "pattern": pattern, "example": "0.99"})
        return schema
