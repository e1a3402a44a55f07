"""An interrupted run is one command from done (issue 23 items 1 and 2, issue 25 item 4): after Ctrl-C a new
`harvest run` answers at once naming `harvest resume` and `harvest cancel`; `harvest status` shows where the
run stood; `harvest cancel` ends it and the next run completes; a second `harvest run` while one runs says
which run and what to do; a `harvest run` whose host loses the task hub ends, saying `harvest resume`
continues the run. Real Azurite started by the CLI, the real host in-process, a local site whose pages
answer only when released (every run is mid-fetch when it is interrupted). Waits are for events; the
timeouts are hang guards."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time

import pytest
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient

from devhost.store import container_name_for
from tests.e2e.conftest import HARVEST, Workspace
from tests.e2e.test_interrupt import GUARD_S, SlowSite, ctrl_c, finish, first_run_id, slow, start

pytestmark = pytest.mark.slow
__all__ = ["slow"]  # the fixture, shared with test_interrupt
QUICK_S = 30  # "at once": a bound far above the ~2 s it takes, far below the 84-90 s it took


def harvest(ws: Workspace, *args: str, timeout: float = GUARD_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARVEST, *args], env=ws.env, cwd=ws.root, capture_output=True, text=True, timeout=timeout)


def test_after_ctrl_c_run_names_resume_and_cancel_at_once_and_cancel_frees_the_next_run(
        slow: tuple[Workspace, SlowSite, int]) -> None:
    ws, site, _ = slow
    proc = start(ws, "run")
    site.wait_for_fetch(proc)
    ctrl_c(proc)
    _, err = finish(proc)
    assert proc.returncode == 130, err
    run_id = re.search(r"run (\S+) is unfinished", err).group(1)  # type: ignore[union-attr]
    assert f"`harvest cancel {run_id}` abandons it" in err

    started = time.monotonic()
    again = harvest(ws, "run", timeout=QUICK_S)
    assert again.returncode == 2, again.stderr
    assert f"run {run_id} was interrupted: nothing is running it now" in again.stderr
    assert "`harvest resume` continues it" in again.stderr and f"`harvest cancel {run_id}` abandons it" in again.stderr
    assert "site: " in again.stderr and "3 found" in again.stderr  # where it stood, from storage
    assert "http://" not in again.stderr, "a status URL on the port of a host that has exited"
    assert time.monotonic() - started < QUICK_S

    status = harvest(ws, "status", run_id, "--json")
    view = json.loads(status.stdout)
    assert view["interrupted"] is True and view["host"] is None and view["status_url"] is None
    assert view["sources"]["site"]["counts"]["discovered"] == 3 and view["sources"]["site"]["phase"] != "pending"
    shown = harvest(ws, "status", run_id)
    assert f"run {run_id} was interrupted: nothing is running it now" in shown.stderr, shown.stderr

    cancelled = harvest(ws, "cancel")  # no RUN_ID: the active run
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"run {run_id} cancelled (status cancelled); sources released: site" in cancelled.stdout
    assert json.loads(harvest(ws, "status", run_id, "--json").stdout)["status"] == "cancelled"

    site.release.set()
    done = harvest(ws, "run", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "completed"
    final = json.loads(harvest(ws, "status", run_id, "--json").stdout)
    assert final["status"] == "cancelled" and final["runtime_status"] == "Terminated"  # the next host ended it


def test_a_second_run_while_one_runs_names_it_and_the_ways_on(slow: tuple[Workspace, SlowSite, int]) -> None:
    ws, site, _ = slow
    first = start(ws, "run")
    try:
        site.wait_for_fetch(first)
        run_id = first_run_id(ws)
        second = harvest(ws, "run", timeout=QUICK_S)
        assert second.returncode == 2, second.stderr
        assert re.search(rf"run {run_id} is running in `harvest run` \(pid {first.pid}\)", second.stderr), \
            second.stderr
        assert f"`harvest status {run_id} --watch` follows it; `harvest cancel {run_id}` stops it" in second.stderr
        assert "lease" not in second.stderr and "HARVEST_TASK_HUB" not in second.stderr
        detailed = harvest(ws, "run", "-v", timeout=QUICK_S)
        assert "its lease is renewed every" in detailed.stderr  # the task-hub detail, for -v

        cancelled = harvest(ws, "cancel", run_id, "--reason", "wrong sources")  # through the hosting `harvest run`
        assert cancelled.returncode == 0, cancelled.stderr
        assert f"run {run_id} cancelled (status cancelled)" in cancelled.stdout
        out, err = first.communicate(timeout=GUARD_S)
        assert first.returncode == 1, err
        assert f"run {run_id} was cancelled: wrong sources" in err and "Traceback" not in err
        assert "cancelled" in out
    finally:
        site.release.set()
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()


async def _steal_lease(ws: Workspace, port: int) -> None:
    """What another host does when this one stops renewing: break the task hub's lease and take it."""
    conn = ws.env["AzureWebJobsStorage"]
    async with BlobServiceClient.from_connection_string(conn) as service:
        blob = service.get_container_client(container_name_for(ws.env["HARVEST_TASK_HUB"])).get_blob_client(
            "host.lock")
        lease = BlobLeaseClient(blob)
        await lease.break_lease(lease_break_period=0)
        await BlobLeaseClient(blob).acquire(lease_duration=15)
    del port


def test_run_ends_when_its_host_loses_the_task_hub_and_says_resume_continues(
        slow: tuple[Workspace, SlowSite, int]) -> None:
    """Issue 25 item 4: after SIGSTOP (or Azurite down) the host lost its lease; `harvest run` then sat idle
    until Ctrl-C (150 s seen). Here another host takes the lease while the CLI is stopped."""
    ws, site, port = slow
    proc = start(ws, "run")
    try:
        site.wait_for_fetch(proc)
        run_id = first_run_id(ws)
        os.killpg(proc.pid, signal.SIGSTOP)
        asyncio.run(_steal_lease(ws, port))
        os.killpg(proc.pid, signal.SIGCONT)
        _, err = finish(proc)  # its next renewal (every 5 s) is refused: it must end by itself
        assert proc.returncode == 1, err
        last = err.strip().splitlines()[-1]
        assert "this `harvest run` lost its hold on the task hub" in last, err[-2000:]
        assert f"it stopped running run {run_id}; `harvest resume` continues it" in last
        assert "Traceback" not in err
    finally:
        site.release.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
