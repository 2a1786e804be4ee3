"""accounts.client_address: X-Forwarded-For only as far as the operator's proxies vouch for it."""

from __future__ import annotations

import pytest

from accounts.client_address import client_address


@pytest.mark.parametrize(
    ("remote", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.9", None, 0, "203.0.113.9"),
        ("203.0.113.9", "192.0.2.1", 0, "203.0.113.9"),  # no proxy configured: the header is the client's word
        ("10.0.0.2", "198.51.100.7", 1, "198.51.100.7"),
        ("10.0.0.2", "192.0.2.1, 198.51.100.7", 1, "198.51.100.7"),  # the left entry was the client's own
        ("10.0.0.3", "192.0.2.1, 198.51.100.7, 10.0.0.2", 2, "198.51.100.7"),  # two proxies
        ("10.0.0.3", "198.51.100.7", 2, "198.51.100.7"),  # fewer entries than proxies: the leftmost
        ("10.0.0.2", None, 1, "10.0.0.2"),  # did not come through the proxy
        ("10.0.0.2", " , ", 1, "10.0.0.2"),
        ("10.0.0.2", "unknown", 1, "10.0.0.2"),  # not an address: keyed on nothing a client chose
        ("10.0.0.2", "2001:db8::1", 1, "2001:db8::1"),
        ("10.0.0.2", "2001:DB8:0::1", 1, "2001:db8::1"),  # one spelling per address
    ],
)
def test_client_address(remote, forwarded, proxies, expected):
    meta = {"REMOTE_ADDR": remote} | ({"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {})
    assert client_address(meta, trusted_proxies=proxies) == expected
