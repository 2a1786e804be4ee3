"""accounts.outbound: which addresses an outgoing request may reach, and how it reaches them.

The address rules are plain functions (no database); the connection tests run real servers on
127.0.0.1 (allowed through the allow-list, as an operator would for an on-premises receiver).
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from accounts import outbound
from accounts.outbound import AllowList, RefusedUrl, address_refusal, target_check

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


# --- Address classes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        # IPv4
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),  # documentation (TEST-NET-1)
        ("198.18.0.1", "private"),  # benchmarking
        ("0.1.2.3", "private"),  # "this network"
        # IPv6
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("febf::1", "link-local"),
        ("fc00::1", "private"),  # unique local, fc00::/7
        ("fd12:3456::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("ff0e::1", "multicast"),
        ("2001:db8::1", "private"),  # documentation
        ("100::1", "reserved"),  # discard-only, inside ::/8
        ("::7f00:1", "reserved"),  # IPv4-compatible (deprecated)
        # IPv4 inside IPv6: judged as the IPv4 address
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:0.0.0.0", "unspecified"),
        ("::ffff:100.64.1.1", "carrier-grade NAT"),
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
    ],
)
def test_refused_address_classes(address, kind):
    assert address_refusal(address) == kind


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC_V4,
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",  # just below 100.64.0.0/10
        "100.128.0.1",  # just above it
        "172.32.0.1",  # just above 172.16.0.0/12
        PUBLIC_V6,
        "2a00:1450:4001:80b::200e",
        "::ffff:93.184.215.14",  # mapped public IPv4
        "64:ff9b::5db8:d70e",  # NAT64 of a public IPv4 (DNS64 networks)
        "2002:5db8:d70e::1",  # 6to4 of a public IPv4
    ],
)
def test_public_addresses_pass(address):
    assert address_refusal(address) is None


def test_not_an_address_is_a_value_error():
    with pytest.raises(ValueError):
        address_refusal("localhost")


# --- Allow-list ----------------------------------------------------------------------------------


def test_allow_list_parses_hosts_and_networks():
    allow = AllowList.parse(["Hooks.Corp.Example.", "10.20.0.0/16", "192.168.1.7", "fd00::/8", " ", "[::1]"])
    assert allow.hosts == frozenset({"hooks.corp.example"})
    assert [str(n) for n in allow.networks] == ["10.20.0.0/16", "192.168.1.7/32", "fd00::/8", "::1/128"]
    assert allow.allows_address("10.20.3.4") and allow.allows_address("fd00::5") and allow.allows_address("::1")
    assert not allow.allows_address("10.21.0.1")
    assert not allow.allows_address("::ffff:10.20.3.4")  # an IPv6 address is not in an IPv4 network


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "a..b", "host/path", "http://x"])
def test_allow_list_refuses_what_it_cannot_understand(entry):
    with pytest.raises(ValueError, match="neither a host name nor a network"):
        AllowList.parse([entry])


# --- URLs ----------------------------------------------------------------------------------------


def resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


PUBLIC_DNS = resolver({"hooks.example.com": [PUBLIC_V4, PUBLIC_V6]})


def test_a_public_https_url_passes_with_every_address_it_resolves_to():
    target = target_check("https://Hooks.Example.com:8443/in?x=1", resolve=PUBLIC_DNS)
    assert target == outbound.Target(
        scheme="https", host="hooks.example.com", port=8443, path="/in?x=1", addresses=(PUBLIC_V4, PUBLIC_V6)
    )
    assert target_check("https://hooks.example.com", resolve=PUBLIC_DNS).path == "/"
    assert target_check(f"https://[{PUBLIC_V6}]/x").addresses == (PUBLIC_V6,)  # literals need no DNS


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("https://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
        ("https://10.0.0.1/", "10.0.0.1 is a private address"),
        ("https://[::1]/", "::1 is a loopback address"),
        ("https://[::ffff:127.0.0.1]/", "::ffff:7f00:1 is a loopback address"),
        ("https://[fe80::1]/", "fe80::1 is a link-local address"),
        ("https://[fd00::1]/", "fd00::1 is a private address"),
        ("https://0.0.0.0/", "0.0.0.0 is a unspecified address"),
        ("https://100.64.0.1/", "100.64.0.1 is a carrier-grade NAT address"),
        ("https://localhost/", "localhost resolves to 127.0.0.1, a loopback address"),
        ("https://rebind.example.com/", "rebind.example.com resolves to 10.0.0.5, a private address"),
        ("https://2130706433/", "2130706433 resolves to 127.0.0.1, a loopback address"),  # 127.0.0.1 as a number
        ("http://hooks.example.com/", "The URL must start with https://."),
        ("ftp://hooks.example.com/", "The URL must start with https://."),
        ("https:///path-only", "The URL must start with https://."),
        ("hooks.example.com/in", "The URL must start with https://."),
        ("https://user:pw@hooks.example.com/", "must not carry a user name or password"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://nowhere.example.com/", "The host nowhere.example.com does not resolve."),
        ("https://hooks.example.com/" + "a" * 2048, "at most 2048 characters"),
    ],
)
def test_refused_urls_say_why(url, message):
    dns = resolver(
        {
            "hooks.example.com": [PUBLIC_V4],
            "localhost": ["127.0.0.1", "::1"],
            "rebind.example.com": [PUBLIC_V4, "10.0.0.5"],  # one bad address is enough
            "2130706433": ["127.0.0.1"],  # what the C resolver makes of it
        }
    )
    with pytest.raises(RefusedUrl) as refused:
        target_check(url, resolve=dns)
    assert message in str(refused.value)


def test_http_only_where_allowed():
    assert target_check("http://hooks.example.com/in", allow_http=True, resolve=PUBLIC_DNS).port == 80
    with pytest.raises(RefusedUrl, match="loopback"):  # http is not a way round the address rules
        target_check("http://127.0.0.1:8000/", allow_http=True)


def test_the_allow_list_lets_named_hosts_and_networks_through():
    dns = resolver({"hooks.corp.example": ["10.1.2.3"], "other.corp.example": ["10.9.9.9"]})
    allow = AllowList.parse(["hooks.corp.example", "192.168.50.0/24"])
    assert target_check("https://hooks.corp.example/in", allow=allow, resolve=dns).addresses == ("10.1.2.3",)
    assert target_check("https://192.168.50.7/in", allow=allow).addresses == ("192.168.50.7",)
    with pytest.raises(RefusedUrl, match=r"10\.9\.9\.9, a private address"):
        target_check("https://other.corp.example/in", allow=allow, resolve=dns)


def test_the_real_resolver_is_used_by_default():
    # "localhost" resolves without a network, through the system's resolver.
    with pytest.raises(RefusedUrl, match=r"localhost resolves to .*a loopback address"):
        target_check("https://localhost/hook")


# --- Connections ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    seen: list[dict] = []
    status = 200
    reply = b"ok"
    delay = 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append({"host": self.headers["Host"], "path": self.path, "body": body})
        self.send_response(type(self).status)
        if type(self).status in (301, 302):
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        self.send_header("Content-Length", str(len(type(self).reply)))
        self.end_headers()
        for i in range(0, len(type(self).reply), 1024):
            if type(self).delay:
                time.sleep(type(self).delay)
            self.wfile.write(type(self).reply[i : i + 1024])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.seen, _Handler.status, _Handler.reply, _Handler.delay = [], 200, b"ok", 0.0
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _http_target(server, host="hooks.example.com") -> outbound.Target:
    # The name resolves (in this test) to a public address first, and to 127.0.0.1 for the connection:
    # only the allow-list lets the pinned address through, as for an on-premises receiver.
    return outbound.Target(scheme="http", host=host, port=server.server_port, path="/in?x=1", addresses=("127.0.0.1",))


def _post(target, **kwargs):
    options = {"body": b'{"a":1}', "headers": {"Content-Type": "application/json"}, "timeout": 2, "deadline": 5}
    return outbound.post(target, max_bytes=kwargs.pop("max_bytes", 1024), **{**options, **kwargs})


def test_the_request_goes_to_the_checked_address_with_the_host_name_in_the_host_header(server, monkeypatch):
    looked_up, real_getaddrinfo = [], socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answer = _post(_http_target(server))
    assert answer == outbound.Answer(status=200, body=b"ok")
    assert _Handler.seen == [{"host": f"hooks.example.com:{server.server_port}", "path": "/in?x=1", "body": b'{"a":1}'}]
    assert looked_up == ["127.0.0.1"]  # connected to the address checked, without asking DNS for the name again


def test_no_redirect_is_followed(server):
    _Handler.status = 302
    answer = _post(_http_target(server))
    assert answer.status == 302
    assert len(_Handler.seen) == 1


def test_the_answer_is_read_up_to_the_cap(server):
    _Handler.reply = b"x" * 200_000
    assert _post(_http_target(server), max_bytes=1000).body == b"x" * 1000


def test_a_trickling_receiver_is_cut_off_at_the_deadline(server):
    _Handler.reply, _Handler.delay = b"x" * 20 * 1024, 0.1  # 2 s in all, each piece well inside the timeout
    started = time.monotonic()
    with pytest.raises(outbound.Unanswered, match=r"no answer within 0\.5 s"):
        _post(_http_target(server), timeout=1, deadline=0.5, max_bytes=1024 * 1024)
    assert time.monotonic() - started < 1.5


def test_nothing_listening_is_unanswered():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = outbound.Target(scheme="http", host="hooks.example.com", port=port, path="/", addresses=("127.0.0.1",))
    with pytest.raises(outbound.Unanswered):
        _post(target)


# --- HTTPS: SNI and the certificate are the host name's, the connection the checked address's ----

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def _certificates(tmp_path, name: str):
    """A CA of the test's own and a server certificate for ``name`` signed by it."""

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)  # noqa: S603, S607

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Test CA")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={name}")
    (tmp_path / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")  # fmt: skip
    return tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"


@pytest.fixture
def tls_server(tmp_path):
    ca, cert, key = _certificates(tmp_path, "hooks.example.com")
    server_names = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    _Handler.seen, _Handler.status, _Handler.reply, _Handler.delay = [], 204, b"", 0.0
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd, ssl.create_default_context(cafile=str(ca)), server_names
    httpd.shutdown()
    httpd.server_close()


@needs_openssl
def test_https_sends_the_host_name_and_checks_the_certificate_against_it(tls_server):
    httpd, client_context, server_names = tls_server
    target = outbound.Target(
        scheme="https", host="hooks.example.com", port=httpd.server_port, path="/in", addresses=("127.0.0.1",)
    )
    assert _post(target, context=client_context).status == 204
    assert server_names == ["hooks.example.com"]
    assert _Handler.seen[0]["host"] == f"hooks.example.com:{httpd.server_port}"


@needs_openssl
def test_https_refuses_a_certificate_of_another_name(tls_server):
    httpd, client_context, _ = tls_server
    target = outbound.Target(
        scheme="https", host="other.example.com", port=httpd.server_port, path="/in", addresses=("127.0.0.1",)
    )
    with pytest.raises(outbound.Unanswered, match="certificate"):
        _post(target, context=client_context)
    assert _Handler.seen == []
