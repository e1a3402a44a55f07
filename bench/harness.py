"""Plumbing for the benchmark: a private Azurite behind the counting proxy, the corpus web site, and
``harvest serve`` as a subprocess that runs are POSTed to (as a client would in Azure).

The proxy and the site run on one asyncio loop in a background thread of the bench process; the host is
its own process, so its peak RSS (``ru_maxrss`` from ``wait4``) is the host's alone.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from bench.proxy import CountingProxy
from devhost.azurite import azurite_connection_string, is_listening, start_azurite
from devhost.store import container_name_for

REPO_ROOT = Path(__file__).resolve().parent.parent
HARVEST = str(Path(sys.executable).with_name("harvest"))
T = TypeVar("T")


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a live process (0 when it is gone)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Loop:
    """An asyncio loop on a daemon thread; ``call`` runs a coroutine there and waits for its result."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="bench-loop", daemon=True)
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


LOOKUP_PATCH = Path(__file__).with_name("azurite_lookup_patch.js")


def start_emulator(port: int, location: Path, *, patched: bool) -> subprocess.Popen[bytes]:
    """In-memory Azurite; ``patched`` preloads ``azurite_lookup_patch.js`` (lookups by blob name use the
    name index instead of scanning every blob: same results, cost independent of the corpus size)."""
    return start_azurite(port=port, location=location, repo_root=REPO_ROOT, in_memory=True,
                         preload=LOOKUP_PATCH if patched else None)


class Emulator:
    """One in-memory Azurite on a free port with a counting proxy in front of it."""

    def __init__(self, loop: Loop, location: Path, *, patched: bool = True) -> None:
        self.loop = loop
        port = free_port()
        self.process = start_emulator(port, location, patched=patched)
        self.proxy = CountingProxy(port)
        self.loop.call(self.proxy.start())
        self.connection_string = azurite_connection_string(self.proxy.port)  # counted: the host uses this
        self.direct_connection_string = azurite_connection_string(port)  # the bench's own reads, not counted

    def close(self) -> None:
        self.loop.call(self.proxy.stop())
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Storage:
    """Two Azurites: one for the task hub (``AzureWebJobsStorage``), one for the corpus
    (``HARVEST_STORAGE_CONNECTION``), as a deployment may use two accounts. Azurite keeps every blob of
    every container in one LokiJS collection and scans it on each request, so one emulator holding both
    would make each orchestration step pay for the corpus size (real Blob storage does not)."""

    def __init__(self, loop: Loop, workdir: Path, *, patched: bool = True) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-azurite-", dir=workdir)
        self.patched = patched
        self.durable = Emulator(loop, Path(self.tmp.name) / "durable", patched=patched)
        self.corpus = Emulator(loop, Path(self.tmp.name) / "corpus", patched=patched)

    def snapshot(self) -> dict[str, Any]:
        a, b = self.durable.proxy.snapshot(), self.corpus.proxy.snapshot()
        return {"ops": {**a["ops"], **b["ops"]}, "history": a["history"], "history_rounds": a["history_rounds"]}

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.durable.process.pid) + cpu_seconds(self.corpus.process.pid)

    def close(self) -> None:
        self.durable.close()
        self.corpus.close()
        self.tmp.cleanup()


@dataclass
class RunOutcome:
    run_id: str
    summary: dict[str, Any]
    wall_s: float
    blob_ops: dict[str, dict[str, int]]
    history_events: int
    history_rounds: int
    instances: int
    host_cpu_s: float = 0.0
    storage_cpu_s: float = 0.0
    load_avg: float = 0.0

    def ops_total(self, container: str) -> int:
        return sum(self.blob_ops.get(container, {}).values())


POLL_MAX_S = 1.0  # never wait longer than this between two status queries
DURABLE_STATUS = "/runtime/webhooks/durabletask/instances"  # the local host's Durable HTTP API (devhost.durable_api)


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: not sent by the status endpoint
        return None


def _finished_after(status: Any, started_at: datetime, polled_s: float) -> float:
    """Seconds from ``started_at`` to the finished orchestration's ``lastUpdatedTime`` (``polled_s``, the
    time until the poll that saw it finish, if the status has no usable timestamp)."""
    stamp = status.get("lastUpdatedTime") if isinstance(status, dict) else None
    try:
        finished = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return polled_s
    seconds = (finished - started_at).total_seconds()
    return seconds if 0 < seconds <= polled_s + 0.5 else polled_s


def _runtime_status(status: Any) -> str | None:
    """The orchestration status from a status URL's answer: a Durable status (``runtimeStatus``) or Harvest's
    own run view (``GET /api/runs/{id}``: the run record with ``runtime_status``)."""
    if not isinstance(status, dict):
        return None
    value = status.get("runtimeStatus") or status.get("runtime_status")
    return str(value) if value else None


def _diff(after: dict[str, dict[str, int]], before: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for container, ops in after.items():
        delta = {op: n - before.get(container, {}).get(op, 0) for op, n in ops.items()}
        delta = {op: n for op, n in delta.items() if n}
        if delta:
            out[container] = delta
    return out


@dataclass
class Host:
    """``harvest serve`` for one workspace (its own container and task hub)."""

    storage: Storage
    workdir: Path
    manifest: Path
    embedder: str
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    peak_rss_kb: int | None = None

    def __post_init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.container = f"bench-{tag}"
        self.task_hub = f"Bench{tag}"
        self.durable_container = container_name_for(self.task_hub)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
        env.update({
            "AzureWebJobsStorage": self.storage.durable.connection_string,
            "HARVEST_STORAGE_CONNECTION": self.storage.corpus.connection_string,
            "HARVEST_CONTAINER": self.container,
            "HARVEST_TASK_HUB": self.task_hub,
            "HARVEST_MANIFEST": str(self.manifest),
            "HARVEST_EMBEDDER": self.embedder,
            "HARVEST_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
            "HF_HUB_OFFLINE": "1",
            "PYTHONPATH": str(REPO_ROOT),
            **self.extra_env,
        })
        return env

    def start(self) -> None:
        log = (self.workdir / f"serve-{self.task_hub}.log").open("wb")
        self.proc = subprocess.Popen([HARVEST, "serve", "--port", str(self.port), "--no-timers"], env=self.env(),
                                     stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
        deadline = time.monotonic() + 120
        while not is_listening("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"harvest serve did not start; see {log.name}")
            time.sleep(0.1)

    def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any, float | None]:
        """(status, JSON body, the answer's ``Retry-After`` in seconds or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"null"), _retry_after(resp.headers.get("Retry-After"))
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null"), _retry_after(exc.headers.get("Retry-After"))

    def run(self, body: dict[str, Any] | None = None, *, timeout: float = 3600) -> RunOutcome:
        """POST /api/runs and follow the status URL until the run ends.

        Polled as the answer's ``Retry-After`` says (5 s), at most ``POLL_MAX_S`` apart, not faster: a
        status query costs ~9 ms of CPU (5.3 in the host, 3.7 in Azurite; 500 queries measured), so
        polling 4 times a second took ~2 % of the 2 cores from the run it timed. The wall time is POST →
        the orchestration's own ``lastUpdatedTime`` (set by the host when it completed; same clock), so
        the poll interval does not add to it."""
        before = self.storage.snapshot()
        cpu_before = (cpu_seconds(self.proc.pid if self.proc else None), self.storage.cpu_seconds())
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        code, answer, _ = self._request("POST", f"{self.base_url}/api/runs", body or {})
        if code != 202:
            raise RuntimeError(f"POST /api/runs answered {code}: {answer}")
        delay = 0.05
        while True:
            code, status, retry_after = self._request("GET", answer["statusQueryGetUri"])
            runtime = _runtime_status(status)
            if code == 200 and runtime in ("Completed", "Failed", "Terminated"):
                break
            if time.perf_counter() - started > timeout:
                raise TimeoutError(f"run {answer['run_id']} still {runtime} after {timeout} s")
            time.sleep(delay)
            delay = min(max(delay * 1.5, retry_after or 0.0), POLL_MAX_S)
        polled_s = time.perf_counter() - started
        # Harvest's status view has no Durable timestamps; the orchestration's own status has lastUpdatedTime,
        # the moment it completed (after the run's report and notifications, which Harvest's finished_at is not)
        code, durable, _ = self._request("GET", f"{self.base_url}{DURABLE_STATUS}/{quote(answer['run_id'], safe='')}")
        wall = _finished_after(durable if code == 200 else status, started_at, polled_s)
        host_cpu = cpu_seconds(self.proc.pid if self.proc else None) - cpu_before[0]
        storage_cpu = self.storage.cpu_seconds() - cpu_before[1]
        summary = status.get("output") if "runtimeStatus" in status else status  # Durable status / Harvest's view
        if runtime != "Completed" or not isinstance(summary, dict):
            raise RuntimeError(f"run {answer['run_id']} ended {runtime}: {summary}")
        time.sleep(0.3)  # let trailing clean-up requests of the run land in the counts
        after = self.storage.snapshot()
        run_id = answer["run_id"]
        mine = [iid for iid in after["history"] if iid == run_id or iid.startswith(run_id + ":")]
        return RunOutcome(
            run_id=run_id,
            summary=summary,
            wall_s=wall,
            blob_ops=_diff(after["ops"], before["ops"]),
            history_events=sum(after["history"][i] for i in mine),
            history_rounds=sum(after["history_rounds"][i] for i in mine),
            instances=len(mine),
            host_cpu_s=round(host_cpu, 2),
            storage_cpu_s=round(storage_cpu, 2),
            load_avg=round(os.getloadavg()[0], 2),
        )

    def stop(self) -> int | None:
        """Stop the host (SIGTERM) and return its peak resident set size in KiB."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        try:
            while True:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    self.peak_rss_kb = int(usage.ru_maxrss)
                    break
                if time.monotonic() > deadline:
                    self.proc.kill()
                    deadline = time.monotonic() + 30
                time.sleep(0.05)
        except ChildProcessError:  # already reaped
            pass
        self.proc = None
        return self.peak_rss_kb
