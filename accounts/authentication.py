"""`Authorization: Bearer <key>` for the API."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.access import Principal
from accounts.models import ApiKey
from accounts.services import api_key_hash

LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():  # the scheme is case-insensitive
            raise exceptions.AuthenticationFailed("Use the header 'Authorization: Bearer <api key>'.")
        api_key = (
            ApiKey.objects.filter(key_hash=api_key_hash(key.strip()), revoked_at__isnull=True)
            .only("id", "scope", "account_id", "role", "name", "last_used_at")
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is unknown or revoked.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        principal = Principal(
            role="vendor" if api_key.scope == "vendor" else api_key.role,
            account_id=api_key.account_id,
            label=f"key:{api_key.name}",
            api_key_id=api_key.pk,
        )
        return (principal, api_key)

    def authenticate_header(self, request) -> str:
        return self.keyword
