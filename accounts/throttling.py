"""The API's throttle: requests per key, counted in the database (see accounts.ratelimit)."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from accounts import ratelimit


class PrincipalRateThrottle(SimpleRateThrottle):
    """Requests per API key (or user, or client address) and calendar window, counted in the
    database so that every worker shares one count (accounts.ratelimit); 429 with Retry-After."""

    scope = "principal"
    retry_after: int | None = None

    def get_cache_key(self, request, view):
        user = request.user
        ident = getattr(user, "api_key_id", None) or getattr(user, "pk", None) or self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        verdict = ratelimit.hit(
            self.get_cache_key(request, view), limit=self.num_requests, window=self.duration, now=self.timer()
        )
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self):
        return self.retry_after
