"""Operating Harvest through `harvest serve`: run history, live view, control, stats, sources, health,
notifications to local receivers (one of them dead), the report in headless Chromium, retention on the
daily run, and the `harvest runs/status/report` commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from shared.notify.webhook import verify
from tests.conftest import free_port, wait_until
from tests.e2e.conftest import Workspace
from tests.e2e.served import wait_run, workspace
from tests.receivers import SMTP_USER, SmtpServer, smtp_env, start_smtp

SECRET = "whsec-e2e-secret"
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x</link><description>d</description>
<item><title>One</title><link>{base}/one.html</link><guid>one</guid><description>The first item of the feed, long enough
to be kept as a document by the pipeline.</description></item></channel></rss>"""


@dataclass
class Ops:
    ws: Workspace
    base: str
    receiver: HTTPServer
    feed_gate: threading.Event
    smtp: SmtpServer


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> Iterator[Ops]:
    root = tmp_path_factory.mktemp("operate")
    receiver = HTTPServer(host="127.0.0.1", port=free_port())
    receiver.expect_request("/hook").respond_with_data("ok")
    receiver.start()
    feeds = HTTPServer(host="127.0.0.1", port=free_port(), threaded=True)
    gate = threading.Event()

    def feed(_: Request) -> Response:
        gate.wait(90)  # a feed that answers only when the test says so
        return Response(FEED.format(base=feeds.url_for("")), content_type="application/rss+xml")

    feeds.expect_request("/feed.xml").respond_with_handler(feed)
    feeds.expect_request("/one.html").respond_with_data("<html><body><p>" + "A page about bees. " * 20 +
                                                        "</p></body></html>", content_type="text/html")
    feeds.start()
    smtp = start_smtp(root)
    ws = workspace(root, azurite, HARVEST_WEBHOOK_URL=receiver.url_for("/hook"), HARVEST_WEBHOOK_SECRET=SECRET,
                   HARVEST_WEBHOOK_ON="completed,partial,failed,cancelled",
                   HARVEST_SLACK_WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/services/T/B/dead",
                   HARVEST_SLACK_ON="completed", HARVEST_EMAIL_ON="completed", HARVEST_NOTIFY_ATTEMPTS="2",
                   HARVEST_PUBLIC_URL="https://harvest.example.org", HARVEST_RETENTION_DAYS="30", **smtp_env(smtp))
    for i in range(5):
        (ws.docs / f"note-{i}.md").write_text(f"# Note {i}\n\n" + f"Bees visit flower number {i}. " * 40)
    ws.manifest(f"sources:\n  - {{id: notes, kind: folder, path: docs}}\n"
                f"  - {{id: feed, kind: rss, url: '{feeds.url_for('/feed.xml')}', enabled: false}}\n")
    base = ws.serve()
    yield Ops(ws, base, receiver, gate, smtp)
    gate.set()
    ws.stop_all()
    receiver.stop()
    feeds.stop()
    smtp.stop()


@pytest.fixture(scope="module")
def finished(ops: Ops) -> dict[str, Any]:
    """One completed run, started with an Idempotency-Key and replayed."""
    headers = {"Idempotency-Key": "nightly-2026-11-23"}
    first = requests.post(f"{ops.base}/api/runs", json={"sources": ["notes"]}, headers=headers, timeout=30)
    again = requests.post(f"{ops.base}/api/runs", json={"sources": ["notes"]}, headers=headers, timeout=30)
    other = requests.post(f"{ops.base}/api/runs", json={"dry_run": True}, headers=headers, timeout=30)
    assert first.status_code == 202, first.text
    run_id = first.json()["run_id"]
    status = wait_run(ops.base, run_id)
    assert status["runtimeStatus"] == "Completed", ops.ws.log()
    return {"run_id": run_id, "again": again, "other": other, "output": status["output"]}


def test_idempotency_key_returns_the_same_run(finished: dict[str, Any]) -> None:
    again = finished["again"]
    assert again.status_code == 202 and again.json()["run_id"] == finished["run_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert finished["other"].status_code == 409 and finished["other"].json()["details"][0]["field"] == "Idempotency-Key"


def test_run_record_has_status_sources_errors_and_links(ops: Ops, finished: dict[str, Any]) -> None:
    run = requests.get(f"{ops.base}/api/runs/{finished['run_id']}", timeout=10).json()
    assert run["status"] == "completed" and run["trigger"] == "http" and run["runtime_status"] == "Completed"
    notes = run["sources"]["notes"]
    assert notes["phase"] == "done" and notes["counts"]["added"] == 5 and notes["started_at"] <= notes["finished_at"]
    # on the configured public origin (HARVEST_PUBLIC_URL), not on whatever Host the request carried
    assert run["status_url"] == f"https://harvest.example.org/api/runs/{finished['run_id']}"
    assert run["report"] == f"runs/{finished['run_id']}/report.html" and run["errors"] == []
    assert run["progress"]["done"] == run["progress"]["total"] == 1 and run["progress"]["eta_s"] == 0.0
    assert requests.get(f"{ops.base}/api/runs/run-does-not-exist", timeout=10).status_code == 404


def test_notifications_arrive_and_a_dead_receiver_does_not_fail_the_run(ops: Ops, finished: dict[str, Any]) -> None:
    record = requests.get(f"{ops.base}/api/runs/{finished['run_id']}", timeout=10).json()
    outcome = {n["channel"]: n for n in record["notifications"]}
    assert outcome["webhook"]["ok"] and outcome["email"]["ok"] and record["status"] == "completed"
    assert not outcome["slack"]["ok"] and outcome["slack"]["attempts"] == 2 and "dead" not in outcome["slack"]["detail"]
    hooks = [r for r, _ in ops.receiver.log if r.path == "/hook"]
    request = next(r for r in hooks if json.loads(r.get_data())["run_id"] == finished["run_id"])
    assert verify(SECRET, request.headers["X-Harvest-Timestamp"], request.get_data(),
                  request.headers["X-Harvest-Signature"])
    payload = json.loads(request.get_data())
    assert payload["status"] == "completed" and payload["totals"]["added"] == 5
    mail = next(m for m in ops.smtp.handler.received if finished["run_id"] in m.message["Subject"])
    assert mail.tls and mail.login == SMTP_USER and "5 added" in mail.message.get_payload()


def test_history_listing_and_stats(ops: Ops, finished: dict[str, Any]) -> None:
    dry = requests.post(f"{ops.base}/api/runs", json={"dry_run": True}, timeout=30).json()["run_id"]
    wait_run(ops.base, dry)
    page1 = requests.get(f"{ops.base}/api/runs", params={"limit": 1}, timeout=10).json()
    assert [r["run_id"] for r in page1["runs"]] == [dry] and page1["runs"][0]["dry_run"] is True
    page2 = requests.get(f"{ops.base}/api/runs", params={"limit": 1, "continuation": page1["continuation"]},
                         timeout=10).json()
    assert page2["runs"][0]["run_id"] == finished["run_id"]
    mine = requests.get(f"{ops.base}/api/runs", params={"source": "notes", "status": "completed"}, timeout=10).json()
    assert finished["run_id"] in [r["run_id"] for r in mine["runs"]]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert requests.get(f"{ops.base}/api/runs", params={"since": future}, timeout=10).json()["runs"] == []
    stats = requests.get(f"{ops.base}/api/stats", params={"days": 1}, timeout=10).json()
    assert stats["runs"] >= 2 and stats["by_status"]["completed"] >= 2 and stats["success_rate"] > 0
    assert stats["per_day"][-1]["documents"] >= 5 and stats["duration_s"]["p95"] > 0


def test_sources_show_checkpoint_counts_and_reset(ops: Ops, finished: dict[str, Any]) -> None:
    listed = requests.get(f"{ops.base}/api/sources", timeout=10).json()["sources"]
    notes = next(s for s in listed if s["id"] == "notes")
    assert notes["document_count"] == 5 and notes["last_status"] == "completed" and notes["last_success_at"]
    assert notes["config"]["path"] == "docs" and notes["checkpoint"]["active_run"] is None
    assert notes["config"]["settings"] == {}
    assert requests.post(f"{ops.base}/api/sources/notes/reset", timeout=10).status_code == 202
    assert requests.get(f"{ops.base}/api/sources/notes", timeout=10).json()["checkpoint"]["reset_requested"] is True
    assert requests.get(f"{ops.base}/api/sources/nope", timeout=10).status_code == 404


def test_health(ops: Ops) -> None:
    body = requests.get(f"{ops.base}/api/health", timeout=30).json()
    assert body["status"] == "ok" and [c["name"] for c in body["checks"]] == ["settings", "storage", "manifest",
                                                                                  "embedder"]


def test_suspend_resume_cancel_and_purge_a_live_run(ops: Ops, finished: dict[str, Any]) -> None:
    run_id = requests.post(f"{ops.base}/api/runs", json={"sources": ["feed"]}, timeout=30).json()["run_id"]
    url = f"{ops.base}/api/runs/{run_id}"
    live = wait_until(lambda: requests.get(url, timeout=10).json(),
                      lambda v: v["sources"].get("feed", {}).get("phase") == "discover", what="feed in discovery")
    assert live["status"] == "running" and live["progress"]["running"] == 1
    assert requests.delete(url, timeout=10).status_code == 409
    assert requests.post(f"{url}/resume", timeout=10).status_code == 409
    assert requests.post(f"{url}/suspend", json={"reason": "maintenance"}, timeout=10).status_code == 202
    view = wait_until(lambda: requests.get(url, timeout=10).json(), lambda v: v["runtime_status"] == "Suspended")
    assert view["status"] == "suspended"
    listed = requests.get(f"{ops.base}/api/runs", params={"status": "suspended"}, timeout=10).json()["runs"]
    assert [r["run_id"] for r in listed] == [run_id]
    assert requests.post(f"{url}/resume", timeout=10).status_code == 202
    wait_until(lambda: requests.get(url, timeout=10).json(), lambda v: v["runtime_status"] == "Running")
    cancelled = requests.post(f"{url}/cancel", json={"reason": "wrong feed"}, timeout=10)
    assert cancelled.status_code == 202 and cancelled.json()["released_sources"] == ["feed"]
    view = wait_until(lambda: requests.get(url, timeout=10).json(), lambda v: v["runtime_status"] == "Terminated")
    assert view["status"] == "cancelled" and view["message"] == "wrong feed"
    assert requests.get(f"{ops.base}/api/sources/feed", timeout=10).json()["checkpoint"]["active_run"] is None
    assert requests.post(f"{url}/cancel", timeout=10).status_code == 409
    hooks = [json.loads(r.get_data()) for r, _ in ops.receiver.log if r.path == "/hook"]
    assert {"run_id": run_id, "status": "cancelled"}.items() <= next(h for h in hooks if h["run_id"] == run_id).items()
    assert [n["channel"] for n in view["notifications"] if n["ok"]] == ["webhook"]
    ops.feed_gate.set()
    purged = requests.delete(url, timeout=10)
    assert purged.status_code == 200 and purged.json()["purged"]["instances"] == 2
    assert requests.get(url, timeout=10).status_code == 404
    runs = requests.get(f"{ops.base}/api/runs", params={"limit": 100}, timeout=10).json()["runs"]
    assert run_id not in [r["run_id"] for r in runs]


class _Cells(HTMLParser):
    """Numbers tagged with data-total / data-count (per source row) in a rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.totals: dict[str, int] = {}
        self.sources: dict[str, dict[str, int]] = {}
        self._row: str | None = None
        self._field: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-source"):
            self._row = a["data-source"]
            self.sources[self._row] = {}
        if a.get("data-total"):
            self._field = ("total", a["data-total"] or "")
        elif a.get("data-count") and self._row:
            self._field = ("count", a["data-count"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._field and data.strip():
            kind, name = self._field
            (self.totals if kind == "total" else self.sources[self._row or ""])[name] = int(data)
            self._field = None


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed: apt-get install -y chromium")
    return found


def test_report_renders_in_chromium_with_the_run_record_numbers(ops: Ops, finished: dict[str, Any],
                                                                   tmp_path: Path) -> None:
    browser = chromium()
    out = tmp_path / "report.html"
    done = ops.ws.harvest("report", finished["run_id"], "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == requests.get(f"{ops.base}/api/runs/{finished['run_id']}/report", timeout=10).content
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=90, check=True).stdout
    cells = _Cells()
    cells.feed(dom)
    record = requests.get(f"{ops.base}/api/runs/{finished['run_id']}", timeout=10).json()
    assert cells.totals and cells.totals == {k: v for k, v in record["totals"].items() if k in cells.totals}
    for sid, result in record["sources"].items():
        shown = cells.sources[sid]
        assert {k: shown[k] for k in result["counts"] if k in shown} == {
            k: v for k, v in result["counts"].items() if k in shown}
        assert (shown["pages"], shown["batches"]) == (result["pages"], result["batches"])
    assert f'data-final-documents="{record["totals"]["added"]}"' in dom


def test_cli_runs_and_status(ops: Ops, finished: dict[str, Any]) -> None:
    listed = ops.ws.harvest("runs", "--json", "--source", "notes")
    assert listed.returncode == 0, listed.stderr
    assert finished["run_id"] in [r["run_id"] for r in json.loads(listed.stdout)]
    table = ops.ws.harvest("runs", "--status", "completed", "--since", "1d")
    assert finished["run_id"] in table.stdout  # tables are output (issue 12: `harvest runs > f` kept nothing)
    watched = ops.ws.harvest("status", finished["run_id"], "--watch", "--json")
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout)["status"] == "completed"
    assert ops.ws.harvest("report", "run-missing").returncode == 1


def test_daily_run_applies_retention(ops: Ops) -> None:
    from shared.models import RunSummary
    from tests.shared.runs.conftest import make_run

    old: RunSummary = make_run(900, when=datetime.now(UTC) - timedelta(days=45))
    seeded = ops.ws.harvest("runs", "--json")  # storage is reachable from the CLI process too
    assert seeded.returncode == 0
    _seed_old_run(ops.ws, old)
    assert requests.post(f"{ops.base}/admin/functions/daily_timer", timeout=10).status_code == 202
    daily = f"daily-{datetime.now(UTC):%Y-%m-%d}"
    status = wait_until(lambda: requests.get(f"{ops.base}/runtime/webhooks/durabletask/instances/{daily}",
                                             timeout=10), lambda r: r.status_code == 200, what="daily run")
    assert status.json()["output"]["trigger"] == "timer"
    listed = requests.get(f"{ops.base}/api/runs", params={"limit": 100}, timeout=10).json()["runs"]
    assert old.run_id not in [r["run_id"] for r in listed] and daily in [r["run_id"] for r in listed]


def _seed_old_run(ws: Workspace, summary: Any) -> None:
    import asyncio

    from shared.runs.index import sync_index
    from shared.storage import layout

    async def seed() -> None:
        async with ws.store() as store:
            await store.write_json(layout.run_blob(summary.run_id), summary.model_dump(mode="json"))  # as stored
            await sync_index(store, summary.run_id)
            assert await store.exists(f"runs/{summary.run_id}/run.json")

    asyncio.run(seed())
