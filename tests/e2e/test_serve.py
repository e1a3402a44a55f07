"""`harvest serve` as a client sees it: POST /api/runs over real HTTP, poll the status-query URL."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import requests

from shared.corpus.read import iter_chunks
from shared.storage import records
from tests.conftest import holds, wait_until
from tests.e2e.conftest import Workspace
from tests.e2e.docs_text import DOCS, write_docs

pytestmark = pytest.mark.slow


def wait_done(url: str, timeout: float = 240) -> dict:
    """Poll like a Durable client: 202 + Location + Retry-After while active, 200 once ended. Works for
    Harvest's status URL (``runtime_status``) and the Durable one (``runtimeStatus``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = requests.get(url, timeout=10)
        body = resp.json()
        if runtime_of(body) in ("Completed", "Failed", "Terminated"):
            assert resp.status_code == 200
            return body
        assert resp.status_code == 202 and resp.headers.get("Location") and resp.headers.get("Retry-After")
        time.sleep(0.3)
    raise AssertionError(f"not finished: {body}")


def runtime_of(body: dict) -> str | None:
    return body.get("runtime_status") or body.get("runtimeStatus")


async def corpus(ws: Workspace) -> list[dict]:
    async with ws.store() as store:
        return [row async for row in iter_chunks(store)]


async def test_post_runs_then_poll_status_query_uri_to_completed(workspace: Workspace) -> None:
    write_docs(workspace.docs)
    base = workspace.serve()
    resp = requests.post(f"{base}/api/runs", json={"sources": ["notes"]}, timeout=30)
    assert resp.status_code == 202, resp.text
    started = resp.json()
    run_url = f"{base}/api/runs/{started['run_id']}"
    assert started["statusQueryGetUri"] == resp.headers["Location"] == run_url and resp.headers["Retry-After"]
    assert {k: started[k] for k in ("cancelPostUri", "suspendPostUri", "resumePostUri")} == {
        "cancelPostUri": f"{run_url}/cancel", "suspendPostUri": f"{run_url}/suspend",
        "resumePostUri": f"{run_url}/resume"}
    assert not {"terminatePostUri", "purgeHistoryDeleteUri", "sendEventPostUri"} & set(started)
    summary = wait_done(started["statusQueryGetUri"])
    assert summary["runtime_status"] == "Completed", workspace.log()
    assert summary["status"] == "completed" and summary["run_id"] == started["run_id"]
    assert f"GET  {base}/api/runs/<run_id>" in workspace.log()  # the banner points at the status URL
    assert "/runtime/webhooks/" not in workspace.log().split("Ctrl-C")[0]
    counts = summary["sources"]["notes"]["counts"]
    assert (counts["discovered"], counts["added"], counts["failed"]) == (len(DOCS), len(DOCS), 0)
    rows = await corpus(workspace)
    assert {r["doc_id"] for r in rows} == set(DOCS)
    assert all(len(r["vector"]) == 384 and r["text"].strip() and r["url"] for r in rows)
    html = [r for r in rows if r["doc_id"] == "compost.html"]
    assert html and html[0]["title"] == "Composting"
    assert not any("garden club" in r["text"] or "About" in r["text"] for r in html)


@pytest.mark.parametrize(
    ("body", "field"),
    [(b"{oops", "body"), (b'{"sources": ["nope"]}', "sources"), (b'{"dry_run": "maybe"}', "dry_run"),
     (b'{"extra": 1}', "extra")],
)
def test_bad_bodies_get_400_with_fields_over_http(workspace: Workspace, body: bytes, field: str) -> None:
    base = workspace.serve()
    resp = requests.post(f"{base}/api/runs", data=body, headers={"content-type": "application/json"}, timeout=30)
    assert resp.status_code == 400
    payload = resp.json()
    assert field in [d["field"] for d in payload["details"]]
    assert "Traceback" not in resp.text


def test_unknown_route_and_method_are_json_errors(workspace: Workspace) -> None:
    base = workspace.serve()
    assert requests.get(f"{base}/api/nothing-here", timeout=10).status_code == 404
    resp = requests.put(f"{base}/api/runs", timeout=10)
    assert resp.status_code in (404, 405) and "Traceback" not in resp.text


async def test_sigkill_mid_run_then_restart_finishes_the_same_run(workspace: Workspace) -> None:
    sentence = ("The harbour pilot boards each ship at the outer buoy and guides it through the channel. ")
    docs = {f"pilot-{i:02d}.md": f"# Pilot log {i}\n\n" + f"Entry {i}. " + sentence * 25 for i in range(10)}
    write_docs(workspace.docs, docs)
    workspace.env["HARVEST_BATCH_SIZE"] = "2"
    port = None
    base = workspace.serve(port)
    port = int(base.rsplit(":", 1)[1])
    started = requests.post(f"{base}/api/runs", json={}, timeout=30).json()
    deadline = time.monotonic() + 120
    src: dict = {}
    while time.monotonic() < deadline:  # wait until a second batch is under way (in its lanes), then kill
        view = requests.get(started["statusQueryGetUri"], timeout=10)
        src = (view.json().get("sources") or {}).get("notes", {}) if view.status_code in (200, 202) else {}
        if (src.get("position") or {}).get("batch", 0) >= 2:
            break
        time.sleep(0.1)
    workspace.kill()
    assert (src.get("position") or {}).get("batch", 0) >= 2 and src.get("phase") != "done", src  # killed mid-run
    base = workspace.serve(port)
    status = wait_done(started["statusQueryGetUri"])
    assert status["runtime_status"] == "Completed", workspace.log()
    counts = status["sources"]["notes"]["counts"]
    assert counts["added"] == 10 and counts["failed"] == 0
    rows = await corpus(workspace)
    assert {r["doc_id"] for r in rows} == set(docs)
    ordinals = [(r["doc_id"], r["ordinal"]) for r in rows]
    assert len(ordinals) == len(set(ordinals))  # no chunk twice
    async with workspace.store() as store:
        for doc_id in docs:
            rec = await records.read_doc(store, "notes", doc_id)
            assert rec is not None and len(rec.versions) == 1  # committed once, not once per attempt


def test_rss_source_against_a_local_http_server(workspace: Workspace, httpserver) -> None:  # type: ignore[no-untyped-def]
    pages = {
        "/glaciers": ("Glaciers", "Glaciers flow downhill under their own weight, grinding valleys into U shapes."),
        "/lighthouses": ("Lighthouses", "A Fresnel lens concentrates a lighthouse lamp into a beam seen far at sea."),
    }
    items = "".join(
        f"<item><title>{t}</title><link>{httpserver.url_for(p)}</link><guid>{p}</guid>"
        f"<pubDate>Mon, 0{i + 1} Jun 2026 10:00:00 GMT</pubDate></item>"
        for i, (p, (t, _)) in enumerate(pages.items())
    )
    feed = f"<?xml version='1.0'?><rss version='2.0'><channel><title>News</title>{items}</channel></rss>"
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    httpserver.expect_request("/robots.txt").respond_with_data("", status=404)  # no robots.txt: all allowed
    for path, (title, text) in pages.items():
        html = f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1><p>{text}</p>" \
               f"<p>{text}</p></article></body></html>"
        httpserver.expect_request(path).respond_with_data(html, content_type="text/html")
    workspace.manifest(f"sources:\n  - id: news\n    kind: rss\n    url: {httpserver.url_for('/feed.xml')}\n")
    done = workspace.harvest("run", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["sources"]["news"]["counts"]["added"] == 2
    export = workspace.harvest("export")
    rows = [json.loads(line) for line in export.stdout.splitlines()]
    assert {r["title"] for r in rows} == {"Glaciers", "Lighthouses"}
    assert all(r["url"].startswith(httpserver.url_for("/")) for r in rows)
    # Without the allowance the same feed on loopback is refused (SSRF guard), and the source fails.
    workspace.env["HARVEST_ALLOWED_PRIVATE_NETWORKS"] = ""
    workspace.env["HARVEST_CONTAINER"] = f"e2e-{uuid.uuid4().hex[:10]}"
    refused = workspace.harvest("run", "--json")
    assert refused.returncode == 1, refused.stdout
    assert "private" in json.loads(refused.stdout)["sources"]["news"]["message"]


def test_harvest_run_hands_the_run_to_a_running_serve(workspace: Workspace) -> None:
    write_docs(workspace.docs, {"tides.md": DOCS["tides.md"]})
    base = workspace.serve()  # found from the task hub's lock: no setting names it
    done = workspace.harvest("run", "--json")
    assert done.returncode == 0, done.stderr
    assert f"`harvest serve` at {base} (pid " in done.stderr and "serves this task hub: the run goes to it" \
        in done.stderr
    assert json.loads(done.stdout)["sources"]["notes"]["counts"]["added"] == 1


async def test_suspend_and_resume_a_run_lose_nothing(workspace: Workspace) -> None:
    workspace.env.update(HARVEST_EMBEDDER="hashing", HARVEST_BATCH_SIZE="1")
    docs = {f"n-{i:02d}.md": f"# Note {i}\n\nThe ferry crossed the strait {i} times in the storm.\n"
            for i in range(30)}
    write_docs(workspace.docs, docs)
    base = workspace.serve()
    started = requests.post(f"{base}/api/runs", json={}, timeout=30).json()
    assert requests.post(started["suspendPostUri"], timeout=10).status_code == 202
    view = lambda: requests.get(started["statusQueryGetUri"], timeout=10).json()  # noqa: E731
    wait_until(view, lambda s: runtime_of(s) == "Suspended", 30, "the run suspended", 0.1)
    # nothing to wait for while it is held: the run stays suspended (and says so) throughout a second
    holds(view, lambda s: runtime_of(s) == "Suspended" and s["status"] == "suspended", 1.0, "suspended")
    sub = f"{base}/runtime/webhooks/durabletask/instances/{started['run_id']}:notes"
    assert requests.post(started["resumePostUri"], timeout=10).status_code == 202
    status = wait_done(started["statusQueryGetUri"])
    assert status["runtime_status"] == "Completed", workspace.log()
    assert status["sources"]["notes"]["counts"]["added"] == 30
    assert requests.get(sub, timeout=10).json()["runtimeStatus"] == "Completed"
    rows = await corpus(workspace)
    assert {r["doc_id"] for r in rows} == set(docs)


def test_daily_timer_is_a_singleton_and_http_start_gets_409(workspace: Workspace) -> None:
    workspace.env.update(HARVEST_EMBEDDER="hashing", HARVEST_BATCH_SIZE="1")
    write_docs(workspace.docs, {f"d-{i:02d}.md": f"# D {i}\n\nQuay {i} was busy all night.\n" for i in range(30)})
    base = workspace.serve()
    assert requests.post(f"{base}/admin/functions/daily_timer", json={"input": ""}, timeout=30).status_code == 202
    listing = f"{base}/runtime/webhooks/durabletask/instances"
    deadline = time.monotonic() + 30
    while not (daily := [s for s in requests.get(listing, timeout=10).json()
                         if s["instanceId"].startswith("daily-")]):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run_id = daily[0]["instanceId"]
    assert run_id == time.strftime("daily-%Y-%m-%d", time.gmtime())
    conflict = requests.post(f"{base}/api/runs", json={}, timeout=30)
    assert conflict.status_code == 409, conflict.text
    assert run_id in conflict.headers["Location"]
    assert requests.post(f"{base}/admin/functions/daily_timer", json={"input": ""}, timeout=30).status_code == 202
    status = wait_done(f"{listing}/{run_id}")
    assert status["runtimeStatus"] == "Completed"
    assert requests.post(f"{base}/admin/functions/daily_timer", json={"input": ""}, timeout=30).status_code == 202
    declined = re.compile(rf"daily run {run_id} already exists \(Completed\)")  # triggers/daily.py's log line
    wait_until(workspace.log, lambda log: bool(declined.search(log)), 30, "the third firing declined")
    runs = [s for s in requests.get(listing, timeout=10).json() if s.get("name") == "run_orchestrator"]
    assert [s["instanceId"] for s in runs] == [run_id]  # fired three times, ran once
