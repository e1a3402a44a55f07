"""Persistence: a host stopped or SIGKILLed mid-run resumes from Blob without re-running work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from devhost import history as h
from devhost.lock import HostLockError

from ..conftest import eventually, free_port, running_host
from . import sample_app

HOST_MAIN = Path(__file__).with_name("host_main.py")


def side_counts(directory: str) -> dict[str, Counter[str]]:
    return {p.stem: Counter(p.read_text().split()) for p in Path(directory).glob("*.log")}


def expected_output(cfg: dict[str, Any]) -> list[str]:
    return [f"W{w}A{i}" for w in range(cfg["waves"]) for i in range(cfg["width"])]


async def wave_started(side_dir: str, cfg: dict[str, Any], wave: int, timeout: float = 30) -> None:
    """Wait until every activity of ``wave`` has started (each records its start in ``side_dir``)."""
    keys = [f"w{wave}a{i}" for i in range(cfg["width"])]  # the side files slow_steps writes

    async def started() -> dict[str, Counter[str]]:
        return side_counts(side_dir)

    await eventually(started, lambda counts: all(counts.get(k, Counter())["start"] for k in keys), timeout,
                     f"wave {wave} started")


async def wave_recorded(status: Any, timeout: float = 30) -> None:
    """Wait until the orchestration says wave 0 is in its history (``status()``: its Durable status)."""
    await eventually(status, lambda s: (s or {}).get("customStatus") == {"wave": 0}, timeout, "wave 0 recorded")


async def test_graceful_stop_and_restart_resumes(azurite: str, task_hub: str, side_dir: str) -> None:
    cfg = {"dir": side_dir, "waves": 3, "width": 2, "s": 0.3}
    async with running_host(sample_app.create_app(), azurite, task_hub) as first:
        iid = await first.engine.start_instance("slow_steps", json.dumps(cfg))
        # wave 0 is in history (results of finished-but-unrecorded work may re-run)
        await wave_recorded(lambda: first.get_status(iid))
    async with running_host(sample_app.create_app(), azurite, task_hub) as second:
        status = await second.wait_for(iid, 15)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == expected_output(cfg)
    counts = side_counts(side_dir)
    assert counts["w0a0"]["start"] == 1 and counts["w0a1"]["start"] == 1  # finished before the stop


async def test_second_host_on_same_hub_is_refused(azurite: str, task_hub: str) -> None:
    async with running_host(sample_app.create_app(), azurite, task_hub):
        with pytest.raises(HostLockError, match="already served by another host"):
            async with running_host(sample_app.create_app(), azurite, task_hub):
                pass
    async with running_host(sample_app.create_app(), azurite, task_hub):
        pass  # released on stop: free again


async def status_of(http: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with http.get(url) as resp:
        body: dict[str, Any] = await resp.json()
        return body


def spawn_host(conn: str, hub: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    log = log_path.open("ab")
    proc = subprocess.Popen([sys.executable, str(HOST_MAIN), conn, hub, str(port)],
                            stdout=subprocess.PIPE, stderr=log)
    log.close()
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == b"READY", log_path.read_text()
    return proc


@pytest.mark.timeout(60)
async def test_sigkill_mid_run_then_restart_finishes_without_rerunning_completed_work(
        azurite: str, task_hub: str, side_dir: str, tmp_path: Path) -> None:
    cfg = {"dir": side_dir, "waves": 4, "width": 3, "s": 0.4}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (tmp_path / "logs").mkdir()
    log_path = tmp_path / "logs" / "host.txt"
    proc = spawn_host(azurite, task_hub, port, log_path)
    iid = f"crash:{uuid.uuid4().hex[:8]}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/orchestrators/slow_steps/{iid}", json=cfg) as resp:
                assert resp.status == 202
                status_url = (await resp.json())["statusQueryGetUri"]
            await wave_recorded(lambda: status_of(http, status_url))  # wave 0 recorded in history ...
            await wave_started(side_dir, cfg, 1)  # ... and wave 1 in flight (each activity runs 0.4 s)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            killed_at = side_counts(side_dir)
            assert sum(c["end"] for c in killed_at.values()) < cfg["waves"] * cfg["width"]

            proc = spawn_host(azurite, task_hub, port, log_path)  # takes over the dead host's lease
            body = await eventually(lambda: status_of(http, status_url),
                                    lambda s: s.get("runtimeStatus") in ("Completed", "Failed", "Terminated"),
                                    15, "the run's end", 0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert body["runtimeStatus"] == "Completed", (body, log_path.read_text())
    assert body["output"] == expected_output(cfg)
    counts = side_counts(side_dir)
    assert len(counts) == cfg["waves"] * cfg["width"]
    for key, count in counts.items():
        assert count["end"] == 1, (key, count)  # every activity completed exactly once
        if killed_at.get(key, Counter())["end"]:
            assert count["start"] == 1, (key, count)  # completed before the kill: never re-run
    assert any(c["start"] == 2 for c in counts.values())  # in-flight work was re-run


def raised(name: str, value: str) -> dict[str, Any]:
    return h.event(h.EVENT_RAISED, Name=name, Input=json.dumps(value), MessageId=uuid.uuid4().hex)


async def restart_after_continue_as_new(azurite: str, task_hub: str, episode: list[dict[str, Any]],
                                        closing: dict[str, Any], inbox: list[dict[str, Any]]) -> dict[str, Any]:
    """``carry_over`` as a host left it that recorded ``episode`` and ``closing`` (ExecutionCompleted,
    ContinuedAsNew) with ``inbox`` events saved and died before the next execution started; a second host
    resumes it. Returns its status once finished."""
    iid, execution = f"carry-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    first_input, next_input = json.dumps({"slow_s": 0.1}), json.dumps({"slow_s": 0.1, "round": 1})
    events = [h.event(h.ORCHESTRATOR_STARTED), h.execution_started("carry_over", first_input, None), *episode,
              h.event(h.ORCHESTRATOR_COMPLETED),
              {**h.event(h.EXECUTION_COMPLETED, OrchestrationStatus="ContinuedAsNew", Result=next_input), **closing}]
    async with running_host(sample_app.create_app(), azurite, task_hub) as first:
        now = h.iso(h.utcnow())
        await first.engine.store.write_state({
            "instanceId": iid, "name": "carry_over", "executionId": execution, "runtimeStatus": "Running",
            "input": first_input, "output": None, "customStatus": None, "createdTime": now, "lastUpdatedTime": now,
            "parent": None})
        await first.engine.store.create_history(iid, execution)
        await first.engine.store.append_history(iid, execution, {"seq": 1, "events": events})
        for ev in inbox:
            await first.engine.store.put_message(iid, {"type": "event", "event": ev, "id": ev["MessageId"]})
    async with running_host(sample_app.create_app(), azurite, task_hub) as second:
        return await second.wait_for(iid, 10)


async def test_events_carried_over_survive_a_restart_before_the_next_execution(azurite: str, task_hub: str) -> None:
    """The carried-over events are kept with the closing event: the next host starts the next execution
    with them."""
    status = await restart_after_continue_as_new(azurite, task_hub, [], {"CarryoverEvents": [raised("go", "carried")]},
                                                 [])
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == "carried"


async def test_the_inbox_is_delivered_after_a_restart_between_executions(azurite: str, task_hub: str) -> None:
    """Events saved to the inbox and not yet delivered reach the next execution; one the old execution already
    had (its inbox blob not yet removed) does not come twice."""
    old = raised("go", "old")
    status = await restart_after_continue_as_new(azurite, task_hub, [old], {}, [old, raised("go", "new")])
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == "new"
