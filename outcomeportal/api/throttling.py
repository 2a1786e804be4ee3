from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle


class PrincipalRateThrottle(SimpleRateThrottle):
    """Requests per API key (or user, or client address); 429 with Retry-After past the rate."""

    scope = "principal"

    def get_cache_key(self, request, view):
        user = request.user
        ident = getattr(user, "api_key_id", None) or getattr(user, "pk", None) or self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
