"""Who is at the other end: the client's address, as far as the operator's proxies can vouch for it.

Without a proxy, ``REMOTE_ADDR`` is the client. Behind ``TRUSTED_PROXIES`` reverse proxies of
the operator's own, ``REMOTE_ADDR`` is the last proxy, and each proxy appended the address it saw
to ``X-Forwarded-For``: the entry ``TRUSTED_PROXIES`` places from the right is the address the
outermost trusted proxy saw — the client. Entries further left were written by the client itself
and prove nothing. Django REST framework's ``NUM_PROXIES`` reads the header the same way.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping


def client_address(meta: Mapping[str, str], *, trusted_proxies: int) -> str:
    """The client's address from a request's ``META`` (``REMOTE_ADDR``, ``HTTP_X_FORWARDED_FOR``)."""
    remote = meta.get("REMOTE_ADDR", "")
    if trusted_proxies <= 0:
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote  # not through the proxies at all
    candidate = forwarded[-min(trusted_proxies, len(forwarded))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote  # what a proxy wrote is not an address: do not key anything on it
