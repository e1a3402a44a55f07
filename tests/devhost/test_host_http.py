"""The served port as Azure serves it: the Durable RPC endpoint on its own loopback listener, routing with
ASP.NET's rules (case-insensitive literals, no empty segments, the host's empty 404), keys compared as bytes,
bodies passed through undecoded, and the Durable API's 400s for what it cannot read. Sources: docs/local-host.md
("Host behaviours mirrored")."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import aiohttp
import azure.durable_functions as df
import pytest
import pytest_asyncio

from devhost.host import LocalHost
from devhost.keys import HostKeys

from ..conftest import running_host
from . import rules_app
from .test_host_rules import FUNCTION_KEY, MASTER, get_text

DURABLE = "/runtime/webhooks/durabletask"


async def raw_request(port: int, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request written byte for byte (headers a client library would refuse to send)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + b"Host: localhost\r\nConnection: close\r\n" +
                 (f"Content-Length: {len(body)}\r\n".encode() if body else b"") + b"\r\n" + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 30)  # a hang guard, not a timing assertion
    writer.close()
    head_part, _, payload = data.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, payload


@pytest_asyncio.fixture
async def host(azurite: str) -> AsyncIterator[LocalHost]:
    async with running_host(rules_app.create_app(), azurite) as local:
        yield local


@pytest_asyncio.fixture
async def keyed(azurite: str) -> AsyncIterator[LocalHost]:
    keys = HostKeys(master=MASTER, function=(FUNCTION_KEY,))
    async with running_host(rules_app.create_app(), azurite, keys=keys, host="0.0.0.0") as local:
        yield local


async def test_the_durable_rpc_endpoint_is_its_own_loopback_listener(
        keyed: LocalHost, http: aiohttp.ClientSession) -> None:
    base = f"http://127.0.0.1:{keyed.port}"
    rpc = keyed.rpc_base_url
    assert rpc.startswith("http://127.0.0.1:") and rpc.endswith("/durabletask/") and keyed.rpc_port != keyed.port
    # bound to loopback only, although the served port listens on every interface (--host 0.0.0.0)
    rpc_runner, served_runner = keyed._runners
    assert {addr[0] for addr in rpc_runner.addresses} == {"127.0.0.1"}
    assert {addr[0] for addr in served_runner.addresses} == {"0.0.0.0"}
    binding = json.loads(keyed.client_binding_json())
    assert binding["rpcBaseUrl"] == rpc and binding["baseUrl"].startswith(keyed.base_url)
    # the SDK's own calls reach it without a key: a starter starts, queries and terminates through it
    client = df.DurableOrchestrationClient(keyed.client_binding_json())
    iid = await client.start_new("slow_activity", None, 3)
    assert (await client.get_status(iid)).runtime_status is not None
    await client.terminate(iid, "test over")
    # nothing of it answers on the served port, under its old or its own path, with any method
    for path in ("/durabletask-rpc/instances", "/durabletask/instances", f"/durabletask-rpc/instances/{iid}",
                 "/durabletask-rpc/orchestrators/slow_activity/x", f"/durabletask/instances/{iid}/terminate"):
        for method in ("GET", "POST", "DELETE"):
            status, text = await get_text(http, method, base + path, json={})
            assert (status, text) == (404, ""), (method, path, status)
    # the extension's webhook API on the served port still needs the system key
    assert (await get_text(http, "GET", f"{base}{DURABLE}/instances"))[0] == 401
    assert (await get_text(http, "GET", f"{base}{DURABLE}/instances?code={keyed.keys.system}"))[0] == 200


async def test_the_rpc_port_follows_the_extension_when_17071_is_taken(azurite: str) -> None:
    try:
        blocker: asyncio.Server | None = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 17071)
    except OSError:  # another host on this machine holds it already: the case under test all the same
        blocker = None
    try:
        async with running_host(rules_app.create_app(), azurite) as local:
            assert 30000 <= (local.rpc_port or 0) < 31000
    finally:
        if blocker is not None:
            blocker.close()
            await blocker.wait_closed()


async def test_routes_match_case_insensitively_and_keys_follow_the_route(
        keyed: LocalHost, http: aiohttp.ClientSession) -> None:
    base, system = keyed.base_url.replace("0.0.0.0", "127.0.0.1"), keyed.keys.system
    # literals compare OrdinalIgnoreCase; parameter values keep their case
    assert await get_text(http, "GET", f"{base}/API/PRODUCTS/Mixed?code={FUNCTION_KEY}") == (200, "details Mixed")
    assert await get_text(http, "GET", f"{base}/Api/Products/7/") == (401, "")  # still keyed (function level)
    status, text = await get_text(http, "GET", f"{base}/api/ECHO/AdA")
    assert status == 200 and json.loads(text)["route"] == {"name": "AdA"}
    # another spelling of the Durable API or the admin API is the same route, with the same key
    for path in (f"{DURABLE.upper()}/instances", "/Runtime/Webhooks/DurableTask/Instances/", "/ADMIN/host/STATUS"):
        assert (await get_text(http, "GET", base + path))[0] == 401, path
        assert (await get_text(http, "GET", f"{base}{path}?code={FUNCTION_KEY}"))[0] == 401, path
    assert (await get_text(http, "GET", f"{base}/RUNTIME/webhooks/durabletask/INSTANCES?code={system}"))[0] == 200
    assert (await get_text(http, "GET", f"{base}/admin/HOST/status?code={MASTER}"))[0] == 200


@pytest.mark.parametrize("path", ["//api//products/1", "/api//products/1", "/api/products//1", "//api/echo/x",
                                  "/api/products/1//", "/nothing/here", "/", "/api", "/runtime/webhooks/durabletask"])
async def test_unmatched_paths_get_the_hosts_empty_404(host: LocalHost, path: str) -> None:
    for method in (b"GET", b"POST", b"PUT"):
        status, headers, body = await raw_request(host.port, method + b" " + path.encode() + b" HTTP/1.1\r\n")
        assert (status, body) == (404, b""), (method, path, status, body)
        assert "text/plain" not in headers.get("content-type", "")


async def test_a_method_the_route_does_not_take_is_the_hosts_empty_404(host: LocalHost) -> None:
    for method, path in ((b"PUT", DURABLE + "/instances"), (b"PATCH", DURABLE + "/instances/x"),
                         (b"GET", "/admin/functions/tick"), (b"DELETE", "/admin/host/status")):
        assert (await raw_request(host.port, method + b" " + path.encode() + b" HTTP/1.1\r\n"))[::2] == (404, b"")


@pytest.mark.parametrize("key", ["clé", "ключ", "鍵🔑", "\u00ff" * 40, "é" + MASTER])
async def test_a_non_ascii_key_is_401_on_every_keyed_route(keyed: LocalHost, key: str) -> None:
    code = quote(key, safe="")
    for path in ("/api/products/1", "/api/admin/thing", f"{DURABLE}/instances", "/admin/host/status"):
        for method in (b"GET", b"POST"):
            query = f"{path}?code={code}".encode()
            status, _, body = await raw_request(keyed.port, method + b" " + query + b" HTTP/1.1\r\n")
            assert status in (401, 404) and body == b"", (method, path, status, body)
            status, _, body = await raw_request(
                keyed.port, method + b" " + path.encode() + b" HTTP/1.1\r\n" + b"x-functions-key: " +
                key.encode() + b"\r\n")
            assert status in (401, 404) and body == b"", (method, path, status, body)
    # a wrong key of undecodable bytes too
    status, _, _ = await raw_request(keyed.port, b"GET /api/products/1 HTTP/1.1\r\nx-functions-key: \xff\xfe\r\n")
    assert status == 401


async def test_a_non_ascii_key_that_is_configured_opens_its_routes(azurite: str) -> None:
    master = "clé-maître-🔑"
    async with running_host(rules_app.create_app(), azurite, keys=HostKeys(master=master)) as local:
        ok = await raw_request(local.port, b"GET /admin/host/status?code=" + quote(master).encode() + b" HTTP/1.1\r\n")
        assert ok[0] == 200
        header = b"GET /api/products/1 HTTP/1.1\r\nx-functions-key: " + master.encode() + b"\r\n"
        assert (await raw_request(local.port, header))[0] == 200
        wrong = b"GET /api/products/1 HTTP/1.1\r\nx-functions-key: " + master[:-1].encode() + b"\r\n"
        assert (await raw_request(local.port, wrong))[0] == 401


async def test_request_bodies_reach_the_function_as_sent(host: LocalHost) -> None:
    """The host decompresses nothing: a function sees the bytes and the Content-Encoding the client sent."""
    for encoding, body in ((b"gzip", b"not gzip at all"), (b"gzip", gzip.compress(b'{"a": 1}')),
                           (b"deflate", b"\x78\x9cbroken"), (b"br", b"?")):
        status, _, payload = await raw_request(
            host.port, b"POST /api/echo/x HTTP/1.1\r\nContent-Encoding: " + encoding + b"\r\n", body)
        assert status == 200, payload
        echoed = json.loads(payload)
        assert (echoed["body_hex"], echoed["content_encoding"]) == (body.hex(), encoding.decode())


@pytest.mark.parametrize("query", ["createdTimeFrom=garbage", "createdTimeTo=31/31/2026", "createdTimeFrom=9" * 30,
                                   "top=ten", "top=%EF%BC%93", "top=%D9%A3", "top=-1"])
async def test_the_durable_api_refuses_query_values_it_cannot_read(
        host: LocalHost, http: aiohttp.ClientSession, query: str) -> None:
    for method in ("GET", "DELETE"):
        if method == "DELETE" and query.startswith("top"):
            continue
        async with http.request(method, f"{host.base_url}{DURABLE}/instances?{query}") as resp:
            assert resp.status == 400, (method, query, resp.status)
            body = await resp.json()
        name = query.split("=")[0]
        assert body["ExceptionMessage"].startswith(name), body


@pytest.mark.parametrize(("depth", "status"), [(64, 202), (65, 400), (20_000, 400)])
async def test_json_nested_past_json_nets_max_depth_is_the_extensions_400(
        host: LocalHost, http: aiohttp.ClientSession, depth: int, status: int) -> None:
    body: Any = "[" * depth + "]" * depth
    for prefix in (f"{host.base_url}{DURABLE}", host.rpc_base_url.rstrip("/")):
        async with http.post(f"{prefix}/orchestrators/status_of_size", data=body,
                             headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == status, (prefix, depth, await resp.text())
            if status == 400:
                assert (await resp.json())["Message"] == "Invalid JSON content"
            else:
                iid = (await resp.json())["id"]
                await host.wait_for(iid, 30)


async def test_the_admin_api_refuses_json_it_cannot_read(host: LocalHost, http: aiohttp.ClientSession) -> None:
    """``POST /admin/functions/{activity}`` parsed its body with ``json.loads``: 20,000 levels were a
    RecursionError, answered 500."""
    for body in (b"[" * 20_000 + b"]" * 20_000, b'{"input": ' + b"[" * 65 + b"]" * 65 + b"}", b"{nope"):
        async with http.post(f"{host.base_url}/admin/functions/probe", data=body) as resp:
            assert resp.status == 400 and (await resp.json())["error"].startswith("body must be JSON")
