"""End-to-end fixtures: a workspace (manifest + documents + settings) and `harvest serve` as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devhost.azurite import is_listening
from tests.conftest import REPO_ROOT, free_port

HARVEST = str(Path(sys.executable).with_name("harvest"))


@dataclass
class Workspace:
    root: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def docs(self) -> Path:
        return self.root / "docs"

    def manifest(self, text: str) -> None:
        (self.root / "sources.yaml").write_text(text)

    def harvest(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HARVEST, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)

    def serve(self, port: int | None = None) -> str:
        port = port or free_port()
        log = (self.root / f"serve-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([HARVEST, "serve", "--port", str(port), "--no-timers"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while not is_listening("127.0.0.1", port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"harvest serve did not start:\n{self.log()}")
            time.sleep(0.1)
        return f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        proc = self.procs[-1]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.root.glob("serve-*.log")))

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()


@pytest.fixture
def workspace(tmp_path: Path, azurite: str) -> Iterator[Workspace]:
    (tmp_path / "docs").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")},
        "AzureWebJobsStorage": azurite,
        "HARVEST_CONTAINER": f"e2e-{uuid.uuid4().hex[:10]}",
        "HARVEST_TASK_HUB": f"E2E{uuid.uuid4().hex[:10]}",
        "HARVEST_MANIFEST": str(tmp_path / "sources.yaml"),
        "HARVEST_EMBEDDER": "e5-small",
        "HARVEST_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "HARVEST_DEVHOST_DURABLE_CHECKS": "error",  # a task Azure would not start at once fails the run
    }
    ws = Workspace(root=tmp_path, env=env)
    ws.manifest("sources:\n  - {id: notes, kind: folder, path: docs}\n")
    yield ws
    ws.stop_all()
