"""Host behaviours the app relies on, mirrored by devhost as the Functions host and Durable extension do them.

Each test cites its source in docs/local-host.md ("Host behaviours mirrored"). The app here is a probe
(``rules_app.py``), not Harvest, so each rule is checked on its own.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import azure.durable_functions as df
import azure.functions as func
import pytest
import pytest_asyncio

from devhost.host import LocalHost, WorkerLoadError
from devhost.keys import HostKeys

from ..conftest import running_host
from . import rules_app

MASTER, FUNCTION_KEY = "master-key-for-tests", "function-key-for-tests"


@pytest_asyncio.fixture
async def host(azurite: str) -> AsyncIterator[LocalHost]:
    async with running_host(rules_app.create_app(), azurite, function_timeout="00:00:02") as local:
        yield local


async def get_text(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, str]:
    async with http.request(method, url, **kw) as resp:
        return resp.status, await resp.text()


async def wait_output(host: LocalHost, http: aiohttp.ClientSession, name: str, body: Any,
                      instance_id: str = "") -> dict[str, Any]:
    url = f"{host.base_url}/api/start/{name}" + (f"/{instance_id}" if instance_id else "")
    async with http.post(url, json=body) as resp:
        assert resp.status == 202, await resp.text()
        iid = (await resp.json())["id"]
    return await host.wait_for(iid, 30)


async def test_routes_are_tried_in_function_name_order(host: LocalHost, http: aiohttp.ClientSession) -> None:
    assert [f.name for f in host.index.http] == ["admin_only", "Details", "echo_request", "List", "start", "Zoo"]
    # "Details" (products/{id}) sorts before "List" (products/list) and wins, as in Azure (#9876)
    assert await get_text(http, "GET", f"{host.base_url}/api/products/list") == (200, "details list")
    # a route whose methods do not match is skipped: POST reaches "Zoo", PUT reaches nothing (bare 404)
    assert await get_text(http, "POST", f"{host.base_url}/api/products/7") == (200, "zoo")
    assert await get_text(http, "PUT", f"{host.base_url}/api/products/7") == (404, "")


async def test_duplicate_route_is_not_registered(azurite: str, task_hub: str) -> None:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.function_name("first")
    @app.route(route="same", methods=["GET"])
    def first(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("first")

    @app.function_name("second")
    @app.route(route="same", methods=["GET", "POST"])
    def second(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("second")

    host = LocalHost(app, connection_string=azurite, task_hub=task_hub, port=0, fire_timers=False)
    assert host.index is not None
    assert [f.name for f in host.index.http] == ["first"]
    assert "conflicts with the route defined by function 'first'" in host.index.route_errors["second"]


async def test_http_request_reaches_the_worker_as_the_host_encodes_it(
        host: LocalHost, http: aiohttp.ClientSession) -> None:
    url = f"{host.base_url}/api/echo/ada?q=1&empty=&q2=two"
    async with http.post(url, data=b'{"a": 1}', headers={"X-Custom": "v", "Content-Type": "application/json"}) as r:
        assert r.status == 200 and r.headers["X-Echo"] == "1"
        body = await r.json()
    assert body["method"] == "POST" and body["route"] == {"name": "ada"}
    assert body["params"] == {"q": "1", "q2": "two"}  # empty query values are dropped by the host
    assert body["headers"] == {"x-custom": "v"}  # header names arrive lower-cased
    assert body["body"] == '{"a": 1}'
    async with http.get(f"{host.base_url}/api/echo/ada") as r:
        assert (await r.json())["body"] == ""


async def test_keys_are_checked_when_configured(azurite: str, http: aiohttp.ClientSession) -> None:
    keys = HostKeys(master=MASTER, function=(FUNCTION_KEY,))
    async with running_host(rules_app.create_app(), azurite, keys=keys) as host:
        base = host.base_url
        assert (await get_text(http, "GET", f"{base}/api/products/1"))[0] == 401
        assert (await get_text(http, "GET", f"{base}/api/products/1?code=wrong"))[0] == 401
        assert (await get_text(http, "GET", f"{base}/api/products/1?code={FUNCTION_KEY}"))[0] == 200
        assert (await get_text(http, "GET", f"{base}/api/products/1", headers={"x-functions-key": MASTER}))[0] == 200
        assert (await get_text(http, "POST", f"{base}/api/admin/thing?code={FUNCTION_KEY}"))[0] == 401
        assert await get_text(http, "POST", f"{base}/api/admin/thing?code={MASTER}") == (200, "admin ok")
        assert (await get_text(http, "GET", f"{base}/api/echo/x"))[0] == 200  # anonymous
        # the Durable webhook API needs the system key; the links a starter hands out carry it
        async with http.post(f"{base}/api/start/status_of_size", json=10) as resp:
            links = await resp.json()
        assert f"code={host.keys.system}" in links["statusQueryGetUri"]
        assert (await get_text(http, "GET", links["statusQueryGetUri"]))[0] in (200, 202)
        bare = links["statusQueryGetUri"].split("&code=")[0]
        assert (await get_text(http, "GET", bare))[0] == 401
        assert (await get_text(http, "GET", f"{base}/admin/host/status"))[0] == 401


async def test_without_keys_every_level_is_open_like_func_start(host: LocalHost, http: aiohttp.ClientSession) -> None:
    assert not host.keys.enabled
    assert await get_text(http, "POST", f"{host.base_url}/api/admin/thing") == (200, "admin ok")


async def test_custom_status_over_16_kb_as_utf16_fails_the_orchestration(
        host: LocalHost, http: aiohttp.ClientSession) -> None:
    # 16 KB counted as UTF-16 is 8,192 characters; the extension truncates to whole KB, so 8,700 still fits
    fits = await wait_output(host, http, "status_of_size", 8_700)
    assert fits["runtimeStatus"] == "Completed" and fits["output"] == 8_700
    over = await wait_output(host, http, "status_of_size", 8_800)
    assert over["runtimeStatus"] == "Failed"
    assert "The UTF-16 size of the JSON-serialized payload must not exceed 16 KB" in json.dumps(over["output"])


async def test_function_timeout_fails_the_activity(host: LocalHost, http: aiohttp.ClientSession) -> None:
    quick = await wait_output(host, http, "slow_activity", 0.1)
    assert quick["output"] == 0.1
    slow = await wait_output(host, http, "slow_activity", 4)
    assert slow["runtimeStatus"] == "Completed"
    assert "Timeout value of 00:00:02 was exceeded by function: Functions.sleepy" in slow["output"]


async def test_max_concurrent_activity_functions(azurite: str, http: aiohttp.ClientSession) -> None:
    async with running_host(rules_app.create_app(), azurite, max_concurrent_activities=2) as host:
        rules_app.RUNNING["max"] = 0
        done = await wait_output(host, http, "fan_out", 8)
        assert done["output"] == sum(range(8))
        assert rules_app.RUNNING["max"] == 2  # 8 fanned out, never more than the limit at once


@pytest.mark.parametrize("bad", ["@entity", "a%23b", "a%3Fb", "tab%09here", "x" * 257])
async def test_instance_ids_the_extension_refuses(host: LocalHost, http: aiohttp.ClientSession, bad: str) -> None:
    # sent on the extension's own start API (the SDK would put "#"/"?" into the URL unencoded)
    url = f"{host.base_url}/runtime/webhooks/durabletask/orchestrators/status_of_size/{bad}"
    async with http.post(url, json=1) as resp:
        assert resp.status == 400
        message = (await resp.json())["ExceptionMessage"]
        expected = "Instance ID lengths must not exceed 256" if len(bad) > 256 else "Orchestration instance ids"
        assert message.startswith(expected)
    client = df.DurableOrchestrationClient(host.client_binding_json())
    if bad.startswith("@") or len(bad) > 256:
        with pytest.raises(Exception, match=r"Orchestration instance ids must not start with @|Instance ID lengths"):
            await client.start_new("status_of_size", bad, 1)


async def test_the_worker_refuses_a_bad_app_and_the_host_loads_nothing(azurite: str, task_hub: str) -> None:
    app = df.DFApp()

    @app.activity_trigger(input_name="payload")
    def bad(payload: dict[str, Any]) -> None:
        return None

    with pytest.raises(WorkerLoadError, match="cannot load the bad function: binding payload has invalid non-type"):
        LocalHost(app, connection_string=azurite, task_hub=task_hub, port=0)


async def test_a_body_short_of_its_content_length_is_408_not_a_hung_request(host: LocalHost) -> None:
    import asyncio

    host.body_grace_s = 0.5  # Kestrel's is 5 s; the rate (240 bytes/s) is the same
    reader, writer = await asyncio.open_connection("127.0.0.1", host.port)
    writer.write(b"POST /api/echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 30)  # a hang guard, not a timing assertion
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")
