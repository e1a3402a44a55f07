"""Ctrl-C (issue 12 item 8): `harvest run` and `harvest serve` stop promptly, say what became of the run,
exit 130, never print a traceback; a second Ctrl-C exits at once; `harvest status --watch` ends with one line
when the run's host goes away. The CLI starts its own Azurite here, as it does for a user, and the terminal's
Ctrl-C is a SIGINT to the whole foreground process group (``killpg``). Timeouts are hang guards only."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from devhost.azurite import azurite_connection_string, is_listening
from tests.conftest import free_port, wait_until
from tests.e2e.conftest import HARVEST, Workspace
from tests.shared.sources.servers import urlset

pytestmark = pytest.mark.slow
GUARD_S = 90  # a hang guard, not a timing assertion


class SlowSite:
    """A sitemap of pages that do not answer until released: a run is always mid-fetch when interrupted."""

    def __init__(self, server: HTTPServer, pages: int = 3) -> None:
        self.release = threading.Event()
        self.hits = 0
        # paths of this test only: a request still on its way from an earlier test's run is not a hit here
        tag = uuid.uuid4().hex[:8]
        server.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
        urls = [(server.url_for(f"/{tag}/slow/{i}"), None) for i in range(pages)]
        server.expect_request(f"/{tag}/sitemap.xml").respond_with_data(urlset(urls), content_type="application/xml")
        server.expect_request(re.compile(rf"/{tag}/slow/\d+")).respond_with_handler(self._page)
        self.sitemap = server.url_for(f"/{tag}/sitemap.xml")

    def _page(self, request: Request) -> Response:
        self.hits += 1
        self.release.wait(60)
        return Response(f"<html><head><title>Page</title></head><body><p>{request.path}: the harbour "
                        "master logs every ship that enters and leaves.</p></body></html>",
                        content_type="text/html")

    def wait_for_fetch(self, proc: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + GUARD_S
        while self.hits == 0:
            assert proc.poll() is None, f"exited early: {proc.communicate()}"
            assert time.monotonic() < deadline, "the run never fetched a page"
            time.sleep(0.1)


@pytest.fixture
def slow(workspace: Workspace, httpserver: HTTPServer, tmp_path: Path) -> Iterator[tuple[Workspace, SlowSite, int]]:
    site = SlowSite(httpserver)
    port = free_port()
    workspace.env.update(HARVEST_EMBEDDER="hashing", AzureWebJobsStorage=azurite_connection_string(port),
                         HARVEST_AZURITE_DIR=str(tmp_path / "azurite"), HARVEST_HTTP_TIMEOUT="60")
    workspace.manifest(f"sources:\n  - {{id: site, kind: sitemap, url: '{site.sitemap}'}}\n")
    try:
        yield workspace, site, port
    finally:
        site.release.set()
        if is_listening("127.0.0.1", port):  # an Azurite left behind (the bug): do not let it outlive the test
            subprocess.run(["fuser", "-k", f"{port}/tcp"], check=False, capture_output=True)


def start(ws: Workspace, *args: str) -> subprocess.Popen[str]:
    """A command in its own process group, as a terminal starts a foreground job."""
    return subprocess.Popen([HARVEST, *args], env=ws.env, cwd=ws.root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def ctrl_c(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGINT)


class Output:
    """What a process writes to one of its pipes, read as it comes (a thread), to wait for a line of it."""

    def __init__(self, pipe: IO[str] | None) -> None:
        assert pipe is not None
        self.pipe, self.chunks = pipe, list[str]()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while chunk := os.read(self.pipe.fileno(), 4096):
            self.chunks.append(chunk.decode(errors="replace"))

    def wait_for(self, text: str, what: str) -> None:
        wait_until(lambda: "".join(self.chunks), lambda seen: text in seen, GUARD_S, what, 0.05)

    def text(self) -> str:
        """All of it (once the process has ended)."""
        self.reader.join(GUARD_S)
        return "".join(self.chunks)


@contextlib.contextmanager
def frozen(port: int) -> Iterator[None]:
    """The storage emulator listening on ``port`` stops answering (SIGSTOP) until the block ends."""
    pids = [int(p) for p in subprocess.run(["fuser", "-n", "tcp", str(port)], capture_output=True,
                                           text=True).stdout.split()]
    assert pids, f"nothing listens on {port}"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        raise AssertionError(f"still running {GUARD_S} s after Ctrl-C:\n{err[-3000:]}") from None


def test_ctrl_c_during_run_says_it_is_unfinished_and_resume_finishes_it(slow: tuple[Workspace, SlowSite, int]) -> None:
    ws, site, port = slow
    proc = start(ws, "run")
    site.wait_for_fetch(proc)
    ctrl_c(proc)
    out, err = finish(proc)
    assert proc.returncode == 130, err
    assert "is unfinished; `harvest resume` continues it" in err, err
    assert "Traceback" not in err + out
    assert not is_listening("127.0.0.1", port), "the CLI's Azurite was left running"

    site.release.set()
    resumed = ws.harvest("resume", "--json", timeout=GUARD_S)
    assert resumed.returncode == 0, resumed.stderr
    assert '"status": "completed"' in resumed.stdout


def test_second_ctrl_c_exits_at_once_without_traceback(slow: tuple[Workspace, SlowSite, int]) -> None:
    """The first Ctrl-C stops the run in order, which can take a while (here storage stops answering, so
    stopping the local host waits); a second one, sent once the first is seen at work, leaves at once."""
    ws, site, port = slow
    proc = start(ws, "run")
    site.wait_for_fetch(proc)
    err = Output(proc.stderr)
    with frozen(port):
        ctrl_c(proc)
        err.wait_for("stopping the local host: waiting", "the first Ctrl-C stopping the host")
        ctrl_c(proc)
        try:
            proc.wait(GUARD_S)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    text = err.text() + (proc.stdout.read() if proc.stdout else "")
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert "is unfinished" not in text, text  # left at once: not the first Ctrl-C's orderly ending


def test_ctrl_c_stops_serve(slow: tuple[Workspace, SlowSite, int]) -> None:
    ws, site, port = slow
    api = free_port()
    proc = start(ws, "serve", "--port", str(api), "--no-timers")
    deadline = time.monotonic() + GUARD_S
    while not is_listening("127.0.0.1", api):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    assert requests.post(f"http://127.0.0.1:{api}/api/runs", json={}, timeout=30).status_code == 202
    site.wait_for_fetch(proc)
    ctrl_c(proc)
    out, err = finish(proc)
    assert proc.returncode == 130, err
    assert "harvest serve stopped" in err and "Traceback" not in err + out
    assert not is_listening("127.0.0.1", port), "serve's Azurite was left running"


def first_run_id(ws: Workspace) -> str:
    """The id of the run in the index (it is indexed shortly after it starts: poll, bounded)."""
    deadline = time.monotonic() + GUARD_S
    while True:
        listed = ws.harvest("runs", "--json", timeout=60).stdout
        if '"run_id": "' in listed:
            return listed.split('"run_id": "')[1].split('"')[0]
        assert time.monotonic() < deadline, f"no run indexed: {listed[-500:]}"
        time.sleep(0.5)


def test_watch_ends_with_one_line_when_the_hosting_cli_stops(slow: tuple[Workspace, SlowSite, int]) -> None:
    ws, site, _ = slow
    runner = start(ws, "run")
    site.wait_for_fetch(runner)
    run_id = first_run_id(ws)
    # a terminal (TTY_COMPATIBLE: rich draws the live view as it does for a user), so the watch shows when it
    # is watching: the host goes away only then
    watcher = subprocess.Popen([HARVEST, "status", run_id, "--watch"], env={**ws.env, "TTY_COMPATIBLE": "1"},
                               cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watching = Output(watcher.stderr)
    watching.wait_for(f"run {run_id}", "the live view of the run")
    ctrl_c(runner)
    finish(runner)
    try:
        watcher.wait(GUARD_S)
    except subprocess.TimeoutExpired:
        watcher.kill()
        raise AssertionError(f"status --watch never ended:\n{watching.text()[-2000:]}") from None
    out, err = (watcher.stdout.read() if watcher.stdout else ""), watching.text()
    assert watcher.returncode == 1, err
    assert "Traceback" not in err + out
    last = err.strip().splitlines()[-1]
    assert "no local host is running it" in last or "storage stopped answering" in last, err[-2000:]
