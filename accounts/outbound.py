"""Outgoing HTTP requests that cannot be aimed at the portal's own network (SSRF).

A URL that the portal will call on someone's behalf (a webhook receiver) is checked when it is
saved and again before every request, by :func:`target_check`:

* ``https`` only (``http`` only where the caller allows it, for local development);
* no user name or password in it;
* its host is resolved, and **every** address it resolves to must be a public unicast address:
  unspecified, loopback, private, carrier-grade NAT (100.64.0.0/10), link-local (the cloud
  metadata service at 169.254.169.254), site-local, multicast and reserved addresses are refused,
  IPv4 and IPv6 alike, and an IPv4 address inside an IPv6 one (``::ffff:127.0.0.1``, NAT64
  ``64:ff9b::/96``, 6to4 ``2002::/16``) is judged as the IPv4 address it carries;
* unless the operator's allow-list names the host or a network holding the address (an
  on-premises receiver).

:func:`post` then connects to an address that was checked — never to the name again, so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot move the
request — while the ``Host`` header, TLS's server name (SNI) and the certificate check use the
host name. No redirect is followed (a 3xx is an answer like any other), each socket operation has
a short timeout and the whole exchange a deadline, and at most ``max_bytes`` of the answer are read.

Plain Python (no Django): the caller passes in what the settings say.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]

MAX_URL_LENGTH = 2048
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598 shared address space
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the low 32 bits are an IPv4 address
_DEFAULT_PORTS = {"https": 443, "http": 80}


class RefusedUrl(ValueError):
    """Why a URL may not be called, in a sentence for the person who typed it."""


# --- Addresses ---------------------------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, where it stands for one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: str | IPAddress) -> str | None:
    """``None`` for a public unicast address; else the kind of address it is, e.g. ``"loopback"``.

    Raises ``ValueError`` for something that is not an IP address.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            refusal = address_refusal(embedded)
            if refusal is not None or ip in _NAT64 or ip.ipv4_mapped is not None:
                return refusal  # the IPv4 address decides (a 6to4 address is checked as IPv6 too)
        if ip.is_site_local:  # fec0::/10, deprecated; Python counts it as global
            return "site-local"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:  # Python counts 224.0.0.0/4 and ff00::/8 as global
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:
        return "non-global"
    return None


@dataclass(frozen=True)
class AllowList:
    """Receivers the operator allows on any address: host names and networks (CIDR)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """From entries such as ``hooks.corp.example``, ``10.20.0.0/16`` or ``192.0.2.7``.

        Raises ``ValueError`` naming an entry that is neither a host name nor a network.
        """
        hosts, networks = set(), []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if "/" in entry or ":" in entry or not all(part for part in entry.split(".")):
                raise ValueError(f"{raw!r} is neither a host name nor a network such as 10.0.0.0/8.")
            hosts.add(_ascii_host(entry))
        return cls(hosts=frozenset(hosts), networks=tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host in self.hosts

    def allows_address(self, address: str) -> bool:
        ip = ipaddress.ip_address(address)
        return any(ip.version == net.version and ip in net for net in self.networks)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order, each once."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


# --- URLs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A URL that passed :func:`target_check`, with the addresses that were checked."""

    scheme: str  # "https", or "http" where allowed
    host: str  # ASCII (IDNA), lower case, no brackets
    port: int
    path: str  # path and query, at least "/"
    addresses: tuple[str, ...] = field(default=())


def _ascii_host(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise RefusedUrl(f"{host!r} is not a valid host name.") from exc


def target_check(
    url: str, *, allow_http: bool = False, allow: AllowList | None = None, resolve: Resolver | None = None
) -> Target:
    """The URL's target, once its scheme, host and every address of the host are acceptable.

    Raises :class:`RefusedUrl` with the reason otherwise (also when the host does not resolve).
    """
    allow = allow or AllowList()
    if len(url) > MAX_URL_LENGTH:
        raise RefusedUrl(f"A URL has at most {MAX_URL_LENGTH} characters.")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl("This is not a valid URL.") from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise RefusedUrl("The URL must start with https://." if not allow_http else "The URL must be http(s).")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("The URL must not carry a user name or password.")
    host = parts.hostname.rstrip(".")
    literal = _ip_literal(host)
    host = literal or _ascii_host(host)
    port = port or _DEFAULT_PORTS[parts.scheme]
    if literal:
        addresses = [literal]
    else:
        try:
            addresses = list((resolve or resolve_host)(host, port))
        except (OSError, UnicodeError) as exc:
            raise RefusedUrl(f"The host {host} does not resolve.") from exc
        if not addresses:
            raise RefusedUrl(f"The host {host} does not resolve.")
    if not allow.allows_host(host):
        for address in addresses:
            refusal = None if allow.allows_address(address) else address_refusal(address)
            if refusal is not None:
                where = f"{address} is" if literal else f"{host} resolves to {address},"
                raise RefusedUrl(f"{where} a {refusal} address: only public addresses can be called.")
    path = parts.path or "/"
    return Target(
        scheme=parts.scheme,
        host=host,
        port=port,
        path=f"{path}?{parts.query}" if parts.query else path,
        addresses=tuple(addresses),
    )


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


# --- Requests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most max_bytes of it


class Unanswered(OSError):
    """The request got no answer: no connection, a timeout, the deadline, a broken answer."""


def _connect_first(
    addresses: Sequence[str], port: int, on_connect: Callable[[socket.socket], None] | None,
    _address, timeout, source_address=None,
) -> socket.socket:  # fmt: skip
    """Connect to the first of ``addresses`` that accepts (http.client's ``_create_connection``)."""
    error: OSError = OSError("no address to connect to")
    for address in addresses:
        try:
            sock = socket.create_connection((address, port), timeout, source_address)
        except OSError as exc:
            error = exc
            continue
        if on_connect is not None:
            on_connect(sock)
        return sock
    raise error


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``host`` made to one of the checked ``addresses``, not to a new lookup."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        addresses: Sequence[str],
        timeout: float,
        on_connect: Callable[[socket.socket], None] | None = None,
    ):
        super().__init__(host, port, timeout=timeout)
        self._create_connection = partial(_connect_first, tuple(addresses), port, on_connect)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``host`` over a TCP connection to one of the checked ``addresses``.

    http.client's ``connect`` wraps that socket with ``server_hostname=host``: SNI names the
    host and the certificate is checked against it (the default context checks both).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        addresses: Sequence[str],
        timeout: float,
        context: ssl.SSLContext | None = None,
        on_connect: Callable[[socket.socket], None] | None = None,
    ):
        super().__init__(host, port, timeout=timeout, context=context or ssl.create_default_context())
        self._create_connection = partial(_connect_first, tuple(addresses), port, on_connect)


def post(
    target: Target,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    deadline: float,
    max_bytes: int,
    context: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` to a checked target; raises :class:`Unanswered` when no answer came.

    ``timeout`` bounds each connect and read, ``deadline`` the whole exchange (seconds).
    Redirects are not followed. ``context`` is for tests (a CA of their own).
    """
    if not target.addresses:
        raise Unanswered("the target has no checked address")
    expired = threading.Event()
    held: list[socket.socket] = []  # a duplicate of the TCP socket, whatever wraps it (TLS) or closes it

    def connected(sock: socket.socket) -> None:
        held.append(sock.dup())
        if expired.is_set():
            cut_off()

    def cut_off() -> None:  # unblocks a read stuck on a receiver that trickles bytes
        expired.set()
        for sock in held:
            with contextlib.suppress(OSError):  # closed already
                sock.shutdown(socket.SHUT_RDWR)

    if target.scheme == "https":
        conn: http.client.HTTPConnection = PinnedHTTPSConnection(
            target.host, target.port, addresses=target.addresses, timeout=timeout, context=context,
            on_connect=connected,
        )  # fmt: skip
    else:
        conn = PinnedHTTPConnection(
            target.host, target.port, addresses=target.addresses, timeout=timeout, on_connect=connected
        )
    timer = threading.Timer(deadline, cut_off)
    timer.daemon = True
    timer.start()
    response = None
    try:
        conn.request("POST", target.path, body=body, headers=dict(headers))
        response = conn.getresponse()
        data = response.read(max_bytes)
        if expired.is_set():  # the cut-off may end a read quietly, as if the answer were over
            raise TimeoutError
        return Answer(status=response.status, body=data)
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise Unanswered(f"no answer within {deadline:g} s") from exc
        raise Unanswered(str(exc) or type(exc).__name__) from exc
    finally:
        timer.cancel()
        if response is not None:
            response.close()
        conn.close()
        for sock in held:
            sock.close()
