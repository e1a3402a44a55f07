"""The local host against the real Durable SDK: HTTP starter, status URLs, client API, features."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import azure.durable_functions as df
import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from devhost.host import LocalHost

from ..conftest import holds_async


def client(host: LocalHost) -> df.DurableOrchestrationClient:
    return df.DurableOrchestrationClient(host.client_binding_json())


async def start(host: LocalHost, http: aiohttp.ClientSession, name: str, body: Any = None,
                instance_id: str | None = None) -> dict[str, Any]:
    url = f"{host.base_url}/api/orchestrators/{name}" + (f"/{instance_id}" if instance_id else "")
    async with http.post(url, json=body) as resp:
        assert resp.status == 202, await resp.text()
        payload: dict[str, Any] = await resp.json()
        assert resp.headers["Location"] == payload["statusQueryGetUri"]
        return payload


async def poll(http: aiohttp.ClientSession, url: str, timeout: float = 10) -> dict[str, Any]:
    """Poll a statusQueryGetUri like an external client: 202 while running, 200 when done."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with http.get(url) as resp:
            body: dict[str, Any] = await resp.json()
            if resp.status == 200:
                return body
            assert resp.status == 202
            assert "Location" in resp.headers and "Retry-After" in resp.headers
        await asyncio.sleep(0.05)
    raise TimeoutError(url)


async def wait_custom_status(host: LocalHost, iid: str, expected: Any, timeout: float = 5) -> None:
    for _ in range(int(timeout / 0.02)):
        status = await host.get_status(iid)
        if status and status["customStatus"] == expected:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"custom status never became {expected!r}: {await host.get_status(iid)}")


async def test_fan_out_through_http_starter_and_status_url(host: LocalHost, http: aiohttp.ClientSession) -> None:
    payload = await start(host, http, "fan_out", 5)
    assert payload["statusQueryGetUri"].startswith(f"{host.base_url}/runtime/webhooks/durabletask/instances/")
    body = await poll(http, payload["statusQueryGetUri"])
    assert body["runtimeStatus"] == "Completed"
    assert body["output"] == 20
    assert body["input"] == 5


async def test_task_any_returns_first_finisher(host: LocalHost, http: aiohttp.ClientSession) -> None:
    payload = await start(host, http, "race")
    status = await host.wait_for(payload["id"], 10)
    assert status["output"] == {"winner": "fast", "is_fast": True}


@pytest.mark.parametrize(("fail_times", "expected", "attempts"), [
    (2, {"result": "ok after 3"}, 3),
    (5, {"failed": "Activity function 'flaky' failed: ConnectionError: transient failure 3 "}, 3),
])
async def test_activity_retries(host: LocalHost, http: aiohttp.ClientSession, side_dir: str,
                                fail_times: int, expected: dict[str, str], attempts: int) -> None:
    key = uuid.uuid4().hex
    payload = await start(host, http, "retry_orch", {"dir": side_dir, "key": key, "fail_times": fail_times})
    status = await host.wait_for(payload["id"], 10)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == expected
    assert (Path(side_dir) / f"{key}.attempts").read_text() == str(attempts)


async def test_retries_interleaved_with_other_tasks_land_on_the_right_task(
        host: LocalHost, http: aiohttp.ClientSession, side_dir: str) -> None:
    for _ in range(3):
        key = uuid.uuid4().hex
        payload = await start(host, http, "mixed_retry", {"dir": side_dir, "key": key, "fail_times": 2})
        status = await host.wait_for(payload["id"], 10)
        assert status["runtimeStatus"] == "Completed", status
        out = status["output"]
        assert out["c"] == "C" and out["d"] == "D"
        assert out["rest"] == ["ok after 3", "B", 42]


async def test_sub_orchestrations(host: LocalHost, http: aiohttp.ClientSession) -> None:
    payload = await start(host, http, "parent_orch")
    status = await host.wait_for(payload["id"], 10)
    assert status["output"] == {"results": [6, 12], "child_failure_seen": True}
    child = await client(host).get_status(f"{payload['id']}:child")
    assert child.runtime_status == OrchestrationRuntimeStatus.Completed
    assert child.output == 12


async def test_durable_timer(host: LocalHost, http: aiohttp.ClientSession) -> None:
    payload = await start(host, http, "timer_orch")
    status = await host.wait_for(payload["id"], 10)
    assert status["runtimeStatus"] == "Completed"
    assert 1.0 <= status["output"] < 3.0


async def test_external_events_custom_status_and_cancelled_timer(host: LocalHost,
                                                                 http: aiohttp.ClientSession) -> None:
    payload = await start(host, http, "event_orch")
    iid = payload["id"]
    await wait_custom_status(host, iid, "waiting")
    c = client(host)
    await c.raise_event(iid, "approve", {"by": "alice"})
    await wait_custom_status(host, iid, "approved")
    await c.raise_event(iid, "second", [1, 2])
    status = await host.wait_for(iid, 10)
    assert status["output"] == {"approved": {"by": "alice"}, "second": [1, 2]}
    with pytest.raises(Exception, match="is gone"):
        await c.raise_event(iid, "second", 3)
    with pytest.raises(Exception, match="No instance"):
        await c.raise_event("no-such-instance", "x", 1)


async def test_continue_as_new_keeps_id_and_resets_history(host: LocalHost, http: aiohttp.ClientSession) -> None:
    payload = await start(host, http, "counter_orch", 0)
    status = await host.wait_for(payload["id"], 10)
    assert status["instanceId"] == payload["id"]
    assert status["output"] == {"final": 3, "execution_seen_history_reset": True}
    assert status["customStatus"] == {"n": 3}
    assert status["input"] == 3


async def test_failures_report_failed_with_message(host: LocalHost, http: aiohttp.ClientSession) -> None:
    failed = await poll(http, (await start(host, http, "fail_orch"))["statusQueryGetUri"])
    assert failed["runtimeStatus"] == "Failed"
    assert "boom from activity" in failed["output"]
    raised = await host.wait_for((await start(host, http, "raise_orch"))["id"], 10)
    assert raised["runtimeStatus"] == "Failed"
    assert "orchestrator says no (1)" in raised["output"]
    async with http.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{raised['instanceId']}"
                        "?returnInternalServerErrorOnFailure=true") as resp:
        assert resp.status == 500


async def test_suspend_resume_terminate_and_status_codes(host: LocalHost, http: aiohttp.ClientSession) -> None:
    c = client(host)
    iid = await c.start_new("wait_forever")
    await wait_custom_status(host, iid, {"phase": "waiting"})
    await c.suspend(iid, "pause")
    for _ in range(100):
        if (await c.get_status(iid)).runtime_status == OrchestrationRuntimeStatus.Suspended:
            break
        await asyncio.sleep(0.02)
    await c.raise_event(iid, "go", 21)
    held = OrchestrationRuntimeStatus.Suspended
    await holds_async(lambda: c.get_status(iid), lambda s: s.runtime_status == held, 0.3, "suspended with an event")
    async with http.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/{iid}") as resp:
        assert resp.status == 202
    await c.resume(iid, "go on")
    done = await host.wait_for(iid, 10)
    assert done["runtimeStatus"] == "Completed" and done["output"] == 42

    other = await c.start_new("wait_forever")
    await c.terminate(other, "enough")
    terminated = await host.wait_for(other, 10)
    assert terminated["runtimeStatus"] == "Terminated" and terminated["output"] == "enough"
    base = f"{host.base_url}/runtime/webhooks/durabletask/instances"
    for op in ("terminate", "suspend", "resume"):
        async with http.post(f"{base}/{other}/{op}?reason=x") as resp:
            assert resp.status == 410
        async with http.post(f"{base}/nope-{uuid.uuid4().hex}/{op}?reason=x") as resp:
            assert resp.status == 404
    async with http.get(f"{base}/nope-{uuid.uuid4().hex}") as resp:
        assert resp.status == 404
    assert not await c.get_status("nope")
    with pytest.raises(Exception, match="No instance"):
        await c.terminate("nope", "x")


async def test_start_with_running_id_conflicts_and_finished_id_restarts(host: LocalHost) -> None:
    c = client(host)
    iid = f"singleton:{uuid.uuid4().hex[:6]}"
    assert await c.start_new("wait_forever", iid) == iid
    with pytest.raises(Exception, match="already exists"):
        await c.start_new("wait_forever", iid)
    await c.raise_event(iid, "go", 1)
    assert (await host.wait_for(iid, 10))["output"] == 2
    assert await c.start_new("fan_out", iid, 2) == iid
    assert (await host.wait_for(iid, 10))["output"] == 2
    with pytest.raises(Exception, match="doesn't exist"):
        await c.start_new("no_such_orchestrator")


async def test_query_purge_and_history(host: LocalHost, http: aiohttp.ClientSession) -> None:
    c = client(host)
    prefix = f"q{uuid.uuid4().hex[:6]}-"
    ids = [await c.start_new("fan_out", f"{prefix}{i}", i + 1) for i in range(3)]
    for iid in ids:
        await host.wait_for(iid, 10)
    found = await c.get_status_by(runtime_status=[OrchestrationRuntimeStatus.Completed],
                                  instance_id_prefix=prefix)
    assert sorted(s.instance_id for s in found) == ids
    assert len(await c.get_status_all()) >= 3
    status = await c.get_status(ids[2], show_history=True, show_history_output=True)
    kinds = [e["EventType"] for e in status.history]
    assert kinds.count("TaskCompleted") == 3 and kinds[0] == "ExecutionStarted"
    result = await c.purge_instance_history(ids[0])
    assert result.instances_deleted == 1
    assert not await c.get_status(ids[0])
    assert (await c.purge_instance_history(ids[0])).instances_deleted == 0
    async with http.delete(f"{host.base_url}/runtime/webhooks/durabletask/instances/?instanceIdPrefix={prefix}"
                           "&runtimeStatus=Completed") as resp:
        assert resp.status == 200
        assert (await resp.json())["instancesDeleted"] == 2


async def test_app_http_routes(host: LocalHost, http: aiohttp.ClientSession) -> None:
    iid = await client(host).start_new("fan_out", None, 1)
    await host.wait_for(iid, 10)
    async with http.get(f"{host.base_url}/api/runs/{iid}?q=hello") as resp:
        assert resp.status == 200 and resp.headers["X-Sample"] == "1"
        assert await resp.json() == {"status": "Completed", "output": 0, "q": "hello"}
    async with http.get(f"{host.base_url}/api/runs/unknown") as resp:
        assert resp.status == 404
    async with http.put(f"{host.base_url}/api/echo", data=b"raw bytes") as resp:
        assert resp.status == 201 and await resp.read() == b"raw bytes"
    # the host skips a route whose methods do not match; no route left is its bare 404 (not 405)
    async with http.get(f"{host.base_url}/api/echo") as resp:
        assert resp.status == 404 and await resp.read() == b""
    async with http.get(f"{host.base_url}/api/does/not/exist") as resp:
        assert resp.status == 404 and await resp.read() == b""
    # a failed invocation is the host's 500 with no body: nothing of the exception reaches the client
    async with http.get(f"{host.base_url}/api/explode") as resp:
        assert resp.status == 500 and await resp.read() == b""


async def test_timer_trigger_on_demand(host: LocalHost, http: aiohttp.ClientSession) -> None:
    from . import sample_app

    before = len(sample_app.TIMER_CALLS)
    await host.fire_timer("tick")
    assert len(sample_app.TIMER_CALLS) == before + 1
    async with http.post(f"{host.base_url}/admin/functions/tick", json={}) as resp:
        assert resp.status == 202
    for _ in range(100):
        if len(sample_app.TIMER_CALLS) == before + 2:
            break
        await asyncio.sleep(0.02)
    assert len(sample_app.TIMER_CALLS) == before + 2
    started = await client(host).get_status_by(instance_id_prefix=f"tick-{before + 1}-")
    assert len(started) == 1
