"""Split brain (issue 12 item 2): host A is paused past its lease, host B takes the task hub over and finishes
the run; when A wakes it must write nothing more (storage refuses its appends) and stop dispatching."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.storage.blob.aio import BlobLeaseClient

from devhost.host import LocalHost
from devhost.store import InstanceStore

from ..conftest import free_port, running_host
from . import sample_app
from .test_resume import expected_output, side_counts, spawn_host, status_of, wave_recorded, wave_started


async def history_seqs(conn: str, hub: str, iid: str) -> dict[str, list[int]]:
    """Every history blob of the instance: the seq of each line as written (duplicates kept)."""
    store = InstanceStore(conn, hub)
    await store.open()
    try:
        out: dict[str, list[int]] = {}
        async for item in store.container.list_blobs(name_starts_with=store.prefix(iid) + "history-"):
            raw = await (await store.container.download_blob(item.name)).readall()
            out[item.name] = [json.loads(line)["seq"] for line in raw.decode().splitlines() if line.strip()]
        return out
    finally:
        await store.close()


async def expire_lease(conn: str, hub: str) -> None:
    """What 15 s of silence does to the paused host's lease, without waiting for it: break it."""
    store = InstanceStore(conn, hub)
    await store.open()
    try:
        await BlobLeaseClient(store.container.get_blob_client("host.lock")).break_lease(lease_break_period=0)
    finally:
        await store.close()


def starts(counts: dict[str, Counter[str]]) -> int:
    return sum(c["start"] for c in counts.values())


@pytest.mark.timeout(90)
async def test_host_paused_past_its_lease_writes_nothing_after_another_host_took_over(
        azurite: str, task_hub: str, side_dir: str, tmp_path: Path) -> None:
    cfg: dict[str, Any] = {"dir": side_dir, "waves": 4, "width": 3, "s": 0.6}
    port = free_port()
    log_path = tmp_path / "host-a.txt"
    proc = spawn_host(azurite, task_hub, port, log_path)
    iid = f"split:{uuid.uuid4().hex[:8]}"
    second: LocalHost | None = None
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/api/orchestrators/slow_steps/{iid}", json=cfg) as resp:
                assert resp.status == 202
                status_url = (await resp.json())["statusQueryGetUri"]
            await wave_recorded(lambda: status_of(http, status_url))  # wave 0 in history ...
        await wave_started(side_dir, cfg, 1)  # ... and wave 1 in flight on A (each activity runs 0.6 s)
        os.kill(proc.pid, signal.SIGSTOP)
        await expire_lease(azurite, task_hub)

        second = LocalHost(sample_app.create_app(), connection_string=azurite, task_hub=task_hub, port=0,
                           fire_timers=False)  # started here and stopped only at the end, whatever happens
        await second.start()  # takes the task hub and resumes the run
        status = await second.wait_for(iid, 45)
        assert status["runtimeStatus"] == "Completed" and status["output"] == expected_output(cfg)
        started_before_wake = starts(side_counts(side_dir))

        os.kill(proc.pid, signal.SIGCONT)  # A wakes up: its wave-1 activities finish, it tries to go on
        try:
            out, _ = await asyncio.to_thread(proc.communicate, timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = await asyncio.to_thread(proc.communicate)
        seqs = await history_seqs(azurite, task_hub, iid)
        for name, numbers in seqs.items():
            duplicated = [n for n, k in Counter(numbers).items() if k > 1]
            assert not duplicated, f"{name}: sequence numbers written twice: {duplicated}\n{log_path.read_text()}"
        assert starts(side_counts(side_dir)) == started_before_wake, "the paused host started work after waking"
        assert proc.returncode == 3 and b"LEASE LOST" in out, (proc.returncode, log_path.read_text())
        assert "lost the host lease" in log_path.read_text()
        final = await second.get_status(iid)
        assert final is not None and final["runtimeStatus"] == "Completed"
        assert second.lease_lost.is_set() is False
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait()
        if second is not None:
            await second.stop()


async def test_no_write_once_the_lease_may_have_run_out(azurite: str, task_hub: str) -> None:
    """A host that cannot prove its lease is still current (paused, renewals failing) refuses to write and
    stops dispatching, before any other host need have taken over."""
    from devhost.lock import LeaseLostError

    async with running_host(sample_app.create_app(), azurite, task_hub) as host:
        assert host._lock is not None
        host._lock._valid_until = 0.0  # as after a pause longer than the lease (monotonic time moved on)
        with pytest.raises(LeaseLostError, match="lost its lease"):
            await host.engine.start_instance("slow_steps", json.dumps({"dir": "/nonexistent", "waves": 0,
                                                                          "width": 0, "s": 0}))
        assert host.lease_lost.is_set() and host.engine.stopping
