"""Split brain with the real app (issue 12 item 2): `harvest serve` A is paused mid-run past its lease, B
(`harvest resume`) takes the task hub over and finishes the run; when A wakes it writes nothing more and
stops with one line. No history sequence number is written twice; every document is committed once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections import Counter

import pytest
import requests
from azure.storage.blob.aio import BlobLeaseClient
from pytest_httpserver import HTTPServer

from devhost.store import InstanceStore
from shared.storage.records import list_docs
from tests.e2e.conftest import Workspace
from tests.e2e.test_interrupt import GUARD_S, SlowSite

pytestmark = pytest.mark.slow


async def break_host_lease(ws: Workspace) -> None:
    """What the paused host's 15 s of silence does to its lease, without waiting: break it."""
    store = InstanceStore(ws.env["AzureWebJobsStorage"], ws.env["HARVEST_TASK_HUB"])
    await store.open()
    try:
        await BlobLeaseClient(store.container.get_blob_client("host.lock")).break_lease(lease_break_period=0)
    finally:
        await store.close()


async def duplicated_seqs(ws: Workspace) -> dict[str, list[int]]:
    store = InstanceStore(ws.env["AzureWebJobsStorage"], ws.env["HARVEST_TASK_HUB"])
    await store.open()
    try:
        found: dict[str, list[int]] = {}
        async for item in store.container.list_blobs(name_starts_with="instances/"):
            if "/history-" in item.name:
                raw = await (await store.container.download_blob(item.name)).readall()
                seqs = Counter(json.loads(line)["seq"] for line in raw.decode().splitlines() if line.strip())
                if dup := [s for s, n in seqs.items() if n > 1]:
                    found[item.name] = dup
        return found
    finally:
        await store.close()


async def versions_per_doc(ws: Workspace, source_id: str) -> dict[str, int]:
    async with ws.store() as store:
        return {rec.doc_id: len(rec.versions) for rec in await list_docs(store, source_id)}


def test_paused_serve_stops_after_another_host_took_over(workspace: Workspace, httpserver: HTTPServer) -> None:
    ws = workspace
    ws.env["HARVEST_EMBEDDER"] = "hashing"
    site = SlowSite(httpserver, pages=3)
    ws.manifest(f"sources:\n  - {{id: site, kind: sitemap, url: '{site.sitemap}'}}\n")
    base = ws.serve()
    serve_a = ws.procs[-1]
    try:
        started = requests.post(f"{base}/api/runs", json={}, timeout=30)
        assert started.status_code == 202, started.text
        site.wait_for_fetch(serve_a)  # type: ignore[arg-type]
        os.kill(serve_a.pid, signal.SIGSTOP)
        asyncio.run(break_host_lease(ws))
        site.release.set()

        resumed = ws.harvest("resume", "--json", timeout=GUARD_S)  # host B
        assert resumed.returncode == 0, resumed.stderr
        assert [s["status"] for s in json.loads(resumed.stdout)] == ["completed"]

        os.kill(serve_a.pid, signal.SIGCONT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            serve_a.wait(timeout=GUARD_S)
        assert asyncio.run(duplicated_seqs(ws)) == {}, ws.log()
        versions = asyncio.run(versions_per_doc(ws, "site"))
        assert len(versions) == 3 and set(versions.values()) == {1}, (versions, ws.log())
        assert serve_a.returncode == 1, ws.log()
        assert "lost its lease on the task hub" in ws.log() and "Traceback" not in ws.log()
    finally:
        if serve_a.poll() is None:
            os.kill(serve_a.pid, signal.SIGCONT)
