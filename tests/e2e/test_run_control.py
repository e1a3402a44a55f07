"""Starting and stopping runs through `harvest serve` as a client does: one active run at a time however
many starts race (issue 12 #6), a cancel that stops the whole run — source orchestrations included —
and leaves nothing held (issue 12 #7), and no Durable management link (system key) in any response of a
function-level route (issue 11)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from shared.runs import active, record
from shared.storage import layout, records
from shared.storage.blobs import BlobStore
from tests.conftest import free_port, wait_until
from tests.e2e.conftest import Workspace
from tests.e2e.served import workspace

PAGES = 4
FORBIDDEN = ("code=", "systemkey", "/runtime/webhooks/durabletask")


@dataclass
class Served:
    ws: Workspace
    base: str
    gate: threading.Event
    asked: list[str]  # the slow site's pages requested, in order (the request is held until the gate opens)
    served_pages: list[str]  # ... and answered
    seen: list[requests.Response] = field(default_factory=list)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        resp = requests.request(method, f"{self.base}{path}", timeout=30, **kwargs)
        self.seen.append(resp)
        return resp

    def store(self) -> BlobStore:
        return self.ws.store()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("control")
    pages = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    gate, asked, served_pages = threading.Event(), [], []

    def page(request: Request) -> Response:
        asked.append(request.path)
        gate.wait(120)  # a slow site: its pages answer only when the test says so
        served_pages.append(request.path)
        return Response("<html><body><article><p>" + f"A page about tides, number {request.path}. " * 30 +
                        "</p></article></body></html>", content_type="text/html")

    items = "".join(f"<item><title>Tide {i}</title><link>{pages.url_for(f'/tide-{i}.html')}</link>"
                    f"<guid>tide-{i}</guid></item>" for i in range(PAGES))
    pages.expect_request("/feed.xml").respond_with_data(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Tides</title>{items}</channel></rss>",
        content_type="application/rss+xml")
    pages.expect_request("/robots.txt").respond_with_data("", status=404)
    for i in range(PAGES):
        pages.expect_request(f"/tide-{i}.html").respond_with_handler(page)
    pages.start()
    ws = workspace(root, azurite, HARVEST_BATCH_SIZE="2", HARVEST_MAX_PARALLEL_SOURCES="1")
    for i in range(6):
        (ws.docs / f"n{i}.md").write_text(f"# Note {i}\n\n" + f"Harbour note {i}. " * 40)
    ws.manifest(f"sources:\n  - {{id: notes, kind: folder, path: docs}}\n"
                f"  - {{id: slow, kind: rss, url: '{pages.url_for('/feed.xml')}'}}\n")
    served = Served(ws, ws.serve(), gate, asked, served_pages)
    yield served
    gate.set()
    ws.stop_all()
    pages.stop()


def wait_ended(s: Served, run_id: str) -> dict[str, Any]:
    """Poll Harvest's status URL as a Durable client would: 202 + Location + Retry-After, then 200."""
    url = f"{s.base}/api/runs/{run_id}"

    def poll() -> requests.Response:
        resp = s.call("GET", f"/api/runs/{run_id}")
        if resp.status_code == 202:
            assert resp.headers["Location"] == url and resp.headers["Retry-After"]
        return resp

    return wait_until(poll, lambda r: r.status_code == 200, 180, f"end of {run_id}").json()


def start_slow(s: Served, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Start a run of the slow source; once it is fetching (the slow site has been asked for a page): the run's
    links and the source orchestration's Durable status URL."""
    before = len(s.asked)
    started = s.call("POST", "/api/runs", json=body)
    assert started.status_code == 202, started.text
    links = started.json()
    child = f"{s.base}/runtime/webhooks/durabletask/instances/{links['run_id']}:slow"
    wait_until(lambda: requests.get(child, timeout=10), lambda r: r.status_code == 202 and
               (r.json().get("customStatus") or {}).get("phase") in ("fetch", "batches"), 60,
               "the slow source fetching")
    wait_until(lambda: len(s.asked), lambda n: n > before, 60, "the slow site asked for a page")
    return links, child


def test_ten_simultaneous_starts_make_one_run(served: Served) -> None:
    barrier = threading.Barrier(10)

    def start(_: int) -> requests.Response:
        barrier.wait()
        return requests.post(f"{served.base}/api/runs", json={"sources": ["notes"]}, timeout=60)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(start, range(10)))
    served.seen.extend(answers)
    assert sorted(r.status_code for r in answers) == [202] + [409] * 9, [r.text for r in answers]
    winner = next(r for r in answers if r.status_code == 202).json()["run_id"]
    for lost in (r for r in answers if r.status_code == 409):
        assert lost.headers["Location"] == f"{served.base}/api/runs/{winner}"
        assert {"field": "run_id", "message": winner} in lost.json()["details"]
    view = wait_ended(served, winner)
    assert view["status"] == "completed" and view["sources"]["notes"]["counts"]["added"] == 6
    listed = served.call("GET", "/api/runs", params={"limit": 100}).json()["runs"]
    assert [r["run_id"] for r in listed] == [winner] and listed[0]["status"] == "completed"

    async def marker() -> active.Marker | None:
        async with served.store() as store:
            return await active.read(store)

    assert asyncio.run(marker()) is None  # the run released its place when it closed


def test_a_stale_active_run_marker_does_not_block_starts(served: Served) -> None:
    async def leave_marker() -> None:
        async with served.store() as store:  # a run that crashed before it could release its place
            assert await active.acquire(store, "run-20200101T000000Z-dead00", trigger="http",
                                        now=datetime(2020, 1, 1, tzinfo=UTC)) is None

    asyncio.run(leave_marker())
    started = served.call("POST", "/api/runs", json={"sources": ["notes"], "dry_run": True})
    assert started.status_code == 202, started.text
    assert wait_ended(served, started.json()["run_id"])["status"] == "completed"


async def unfinished_prepares(s: Served, run_id: str) -> list[str]:
    """The batches of the slow source whose pages were asked for and whose prepare has not staged its chunks."""
    asked = {path.lstrip("/") for path in s.asked}
    async with s.store() as store:
        batches = await store.list_folders(f"runs/{run_id}/sources/slow/")
        left = []
        for batch in (b.rstrip("/").rsplit("/", 1)[-1] for b in batches):
            refs = await store.read_jsonl(layout.staging_blob(run_id, "slow", batch, "refs"))
            started = any(ref["url"].rsplit("/", 1)[-1] in asked for ref in refs)
            if started and not await store.exists(layout.staging_blob(run_id, "slow", batch, "chunks")):
                left.append(batch)
        return left


def test_cancel_stops_the_whole_run_and_frees_its_sources(served: Served) -> None:
    links, child = start_slow(served, {"sources": ["slow"]})
    run_id = links["run_id"]
    busy = served.call("GET", f"/api/runs/{run_id}")
    assert busy.status_code == 202 and busy.json()["status"] == "running"
    cancelled = served.call("POST", links["cancelPostUri"].removeprefix(served.base), json={"reason": "too slow"})
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["released_sources"] == ["slow"]
    assert requests.get(child, timeout=10).json()["runtimeStatus"] == "Terminated"  # the source too
    asked = len(served.asked)
    served.gate.set()  # the fetch in flight finishes now; nothing may follow it
    wait_until(lambda: len(served.served_pages), lambda n: n >= asked, 60, "the blocked page requests answered")
    # an activity already running when cancel returned (the prepare of each batch whose pages were asked for)
    # may finish: wait until it has (its staged chunks), then nothing of the run may have reached the corpus
    wait_until(lambda: asyncio.run(unfinished_prepares(served, run_id)), lambda left: not left, 60,
               "the prepare activities in flight finished")

    async def state() -> tuple[list[str], Any, Any, Any]:
        async with served.store() as store:
            corpus = [n async for n in store.list_names(layout.corpus_prefix("slow"))]
            return (corpus, await record.read(store, run_id), await records.read_checkpoint(store, "slow"),
                    await active.read(store))

    corpus, kept, checkpoint, marker = asyncio.run(state())
    assert corpus == []  # no chunk of the cancelled run reached the corpus
    assert kept is not None and kept.status == "cancelled" and kept.message == "too slow"
    assert checkpoint.active_run is None and marker is None
    listed = served.call("GET", "/api/runs", params={"source": "slow"}).json()["runs"]
    assert [(r["run_id"], r["status"]) for r in listed] == [(run_id, "cancelled")]
    view = served.call("GET", f"/api/runs/{run_id}")
    assert view.status_code == 200 and view.json()["status"] == "cancelled"

    again = served.call("POST", "/api/runs", json={"sources": ["slow"]})  # the next run of the source
    assert again.status_code == 202, again.text
    done = wait_ended(served, again.json()["run_id"])
    assert done["status"] == "completed", done
    assert done["sources"]["slow"]["counts"]["added"] == PAGES


def test_no_function_level_response_carries_a_durable_key_or_link(served: Served) -> None:
    run_id = served.call("GET", "/api/runs").json()["runs"][0]["run_id"]
    for method, path in [("GET", "/api/runs"), ("GET", f"/api/runs/{run_id}"), ("GET", f"/api/runs/{run_id}/report"),
                         ("GET", "/api/stats"), ("GET", "/api/sources"), ("GET", "/api/sources/notes"),
                         ("GET", "/api/health"), ("GET", "/api/openapi.json"), ("GET", "/api/runs/run-nope")]:
        served.call(method, path)
    started = served.call("POST", "/api/runs", json={"sources": ["notes"], "dry_run": True},
                          headers={"Idempotency-Key": "control-test"})
    served.call("POST", "/api/runs", json={"sources": ["notes"], "dry_run": True},
                headers={"Idempotency-Key": "control-test"})  # the replay
    served.call("POST", "/api/runs", json={})  # 409 while that run is active (or 202 if it already ended)
    wait_ended(served, started.json()["run_id"])
    assert len(served.seen) > 30
    leaks = [(r.request.method, r.url, r.status_code) for r in served.seen
             if any(bad in (r.text + str(dict(r.headers))).lower() for bad in FORBIDDEN)]
    assert leaks == []


def test_harvest_resume_continues_a_suspended_run_with_its_sources(served: Served) -> None:
    """`harvest resume` resumed only the run orchestration of a suspended run: its source orchestrations
    stayed suspended and the run waited for them for ever. It resumes the run as the API does now."""
    served.gate.clear()  # the slow site holds its pages again
    links, child = start_slow(served, {"sources": ["slow"], "full_refresh": True})
    run_id = links["run_id"]
    suspended = served.call("POST", links["suspendPostUri"].removeprefix(served.base), json={"reason": "later"})
    assert suspended.status_code == 202 and suspended.json()["status"] == "suspended", suspended.text
    assert requests.get(child, timeout=10).json()["runtimeStatus"] == "Suspended"  # the source too
    served.ws.stop_all()  # the host stops with the run suspended
    served.gate.set()
    try:
        resumed = served.ws.harvest("resume", "--json", timeout=150)
    finally:
        served.base = served.ws.serve()
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert [s["run_id"] for s in json.loads(resumed.stdout)] == [run_id]
    view = served.call("GET", f"/api/runs/{run_id}").json()
    counts = view["sources"]["slow"]["counts"]
    assert view["status"] == "completed" and counts["added"] + counts["updated"] + counts["unchanged"] == PAGES, view
