"""HttpClient against real local servers (pytest-httpserver): retries, limits and the SSRF guard."""

from __future__ import annotations

import asyncio
import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from shared.errors import ConfigError, PermanentError, TransientError
from shared.fetching.http import GuardedResolver, HttpClient, HttpResponse, allowed, parse_retry_after

LOOPBACK = ["127.0.0.1/32"]


def client(networks: list[str] | None = None, **kw: object) -> HttpClient:
    args: dict = dict(
        user_agent="harvest-test",
        timeout=5.0,
        max_body_bytes=10_000,
        allowed_networks=LOOPBACK if networks is None else networks,
        concurrency=4,
        retries=3,
        backoff=0.01,
    )
    args.update(kw)
    return HttpClient(**args)


def test_allowed_classifies_addresses() -> None:
    assert allowed("93.184.216.34", [])
    assert allowed("2606:4700::1111", [])
    for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1",
               "fc00::1", "224.0.0.1", "0.0.0.0", "::", "240.0.0.1", "::ffff:127.0.0.1", "100.64.0.1"]:
        assert not allowed(ip, []), ip
    assert allowed("127.0.0.1", ["127.0.0.1/32"])
    assert not allowed("127.0.0.2", ["127.0.0.1/32"])
    assert allowed("10.9.8.7", ["10.0.0.0/8", "192.168.0.0/16"])
    assert not allowed("not-an-ip", [])


def test_bad_network_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        client(["10.0.0.0/33"])


def test_resolver_filter_drops_private_addresses() -> None:
    resolver = GuardedResolver(["10.0.0.0/8"], inner=None)
    mk = lambda ip: {"hostname": "h", "host": ip, "port": 80, "family": 2, "proto": 0, "flags": 0}  # noqa: E731
    kept = resolver.filter([mk("127.0.0.1"), mk("93.184.216.34"), mk("10.1.1.1"), mk("192.168.0.1")])
    assert [r["host"] for r in kept] == ["93.184.216.34", "10.1.1.1"]
    with pytest.raises(PermanentError, match=r"refused: 127\.0\.0\.1 .*HARVEST_ALLOWED_PRIVATE_NETWORKS"):
        resolver.filter([mk("127.0.0.1")])


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)


async def test_get_ok(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/doc").respond_with_data("héllo", content_type="text/plain; charset=utf-8")
    async with client() as http:
        resp = await http.get(httpserver.url_for("/doc"))
    assert resp.status == 200 and resp.body == "héllo".encode()
    assert resp.content_type == "text/plain; charset=utf-8"
    assert resp.headers["content-type"].startswith("text/plain")


async def test_loopback_refused_without_allowance(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/doc").respond_with_data("secret")
    async with client([]) as http:
        with pytest.raises(PermanentError, match=r"refused: 127\.0\.0\.1"):
            await http.get(httpserver.url_for("/doc"))
    assert httpserver.log == []


async def test_loopback_name_goes_through_the_resolver(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/doc").respond_with_data("secret")
    url = f"http://localhost:{httpserver.port}/doc"
    async with client(["127.0.0.2/32"]) as http:
        with pytest.raises(PermanentError, match="refused"):
            await http.get(url)
    async with client(["127.0.0.1/32", "::1/128"]) as http:
        assert (await http.get(url)).body == b"secret"


async def test_redirect_hop_to_private_address_is_refused(httpserver: HTTPServer, other_server: HTTPServer) -> None:
    """Only 127.0.0.2 is allowed; its redirects to 127.0.0.1 (literal, or by name) are refused."""
    httpserver.expect_request("/internal").respond_with_data("secret")
    other_server.expect_request("/hop").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/internal")}
    )
    other_server.expect_request("/hop-by-name").respond_with_data(
        "", status=307, headers={"Location": f"http://localhost:{httpserver.port}/internal"}
    )
    other_server.expect_request("/fine").respond_with_data("public-ish")
    async with client(["127.0.0.2/32"]) as http:
        assert (await http.get(other_server.url_for("/fine"))).body == b"public-ish"
        with pytest.raises(PermanentError, match=r"refused: 127\.0\.0\.1"):
            await http.get(other_server.url_for("/hop"))
        with pytest.raises(PermanentError, match="refused"):
            await http.get(other_server.url_for("/hop-by-name"))
    assert httpserver.log == []


async def test_redirects_followed_and_limited(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("final")
    httpserver.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    async with client() as http:
        resp = await http.get(httpserver.url_for("/a"))
        assert resp.body == b"final" and resp.url.endswith("/b")
        with pytest.raises(PermanentError, match="too many redirects"):
            await http.get(httpserver.url_for("/loop"))


async def test_scheme_must_be_http(httpserver: HTTPServer) -> None:
    async with client() as http:
        for url in ["file:///etc/passwd", "ftp://example.com/x", "gopher://x"]:
            with pytest.raises(PermanentError, match="scheme"):
                await http.get(url)


async def test_429_with_retry_after_then_200(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/r").respond_with_data("slow down", status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request("/r").respond_with_data("ok")
    async with client() as http:
        start = time.monotonic()
        resp = await http.get(httpserver.url_for("/r"))
        elapsed = time.monotonic() - start
    assert resp.body == b"ok"
    assert elapsed >= 0.9  # Retry-After honoured
    assert len(httpserver.log) == 2


async def test_500_then_200(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/r").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/r").respond_with_data("boom", status=503)
    httpserver.expect_ordered_request("/r").respond_with_data("ok")
    async with client() as http:
        assert (await http.get(httpserver.url_for("/r"))).body == b"ok"


async def test_persistent_5xx_becomes_transient(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/r").respond_with_data("boom", status=502)
    async with client(retries=2) as http:
        with pytest.raises(TransientError, match="HTTP 502"):
            await http.get(httpserver.url_for("/r"))
    assert len(httpserver.log) == 3


async def test_long_retry_after_is_passed_to_the_caller(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/r").respond_with_data("", status=503, headers={"Retry-After": "3600"})
    async with client() as http:
        with pytest.raises(TransientError) as info:
            await http.get(httpserver.url_for("/r"))
    assert info.value.retry_after == 3600.0
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [404, 410, 403])
async def test_4xx_is_permanent(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request("/x").respond_with_data("no", status=status)
    async with client() as http:
        with pytest.raises(PermanentError, match=f"HTTP {status}"):
            await http.get(httpserver.url_for("/x"))
    assert len(httpserver.log) == 1


async def test_oversize_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data(b"x" * 20_000)

    def streamed(_request: object) -> Response:  # no Content-Length: the cut-off happens while reading
        return Response((b"y" * 1000 for _ in range(30)), content_type="text/plain")

    httpserver.expect_request("/stream").respond_with_handler(streamed)
    async with client() as http:
        with pytest.raises(PermanentError, match="body larger than 10000 bytes"):
            await http.get(httpserver.url_for("/big"))
        with pytest.raises(PermanentError, match="body larger than 10000 bytes"):
            await http.get(httpserver.url_for("/stream"))


async def test_timeout_is_retried_then_transient(httpserver: HTTPServer) -> None:
    def slow(_request: object) -> Response:
        time.sleep(0.6)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    async with client(timeout=0.2, retries=1) as http:
        with pytest.raises(TransientError):
            await http.get(httpserver.url_for("/slow"))


async def test_connection_refused_is_transient() -> None:
    async with client(retries=1) as http:
        with pytest.raises(TransientError):
            await http.get("http://127.0.0.1:9/nothing")


async def test_a_hop_policy_that_fetches_through_the_client_does_not_deadlock(httpserver: HTTPServer) -> None:
    """robots.txt is fetched through the same client while document requests wait for it: those waiting
    requests must not hold the request slots (they did: with every slot taken, the robots.txt fetch waited
    for a slot forever — an activity hung until its functionTimeout)."""
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    for i in range(3):
        httpserver.expect_request(f"/doc{i}").respond_with_data(f"doc {i}")
    async with client(concurrency=1) as http:
        rules: asyncio.Task[HttpResponse] | None = None

        async def robots_first(url: str) -> tuple[str, dict[str, str]]:
            nonlocal rules
            if rules is None:
                rules = asyncio.ensure_future(http.get(httpserver.url_for("/robots.txt")))
            await asyncio.shield(rules)
            return url, {}

        got = await asyncio.wait_for(asyncio.gather(
            *(http.get(httpserver.url_for(f"/doc{i}"), on_hop=robots_first) for i in range(3))), timeout=20)
    assert [r.body for r in got] == [b"doc 0", b"doc 1", b"doc 2"]


class _NoSuchName(GuardedResolver):
    """The system resolver's answer for a name that does not exist (``EAI_NONAME``), without a DNS query."""

    def __init__(self) -> None:
        super().__init__([])

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list:  # type: ignore[override]
        import socket

        raise OSError(socket.EAI_NONAME, "Name or service not known")


async def test_an_unresolvable_host_is_said_in_words() -> None:
    """Issue 23 item 6: the reason was `ClientConnectorDNSError: Cannot connect to host ... ssl:default [...]`."""
    async with client(retries=0, resolver=_NoSuchName()) as http:
        with pytest.raises(TransientError) as info:
            await http.get("https://news.example.invalid/feed")
    assert str(info.value) == ("GET https://news.example.invalid/feed: cannot reach news.example.invalid: the name "
                               "does not resolve (DNS) (after 1 attempt)")


async def test_a_refused_connection_is_said_in_words() -> None:
    async with client(retries=0) as http:
        with pytest.raises(TransientError) as info:
            await http.get("http://127.0.0.1:9/nothing")
    assert "cannot reach 127.0.0.1:9: connection refused (nothing listens there)" in str(info.value)
    assert "ClientConnector" not in str(info.value)
