"""End-to-end fixtures: a workspace (manifest + documents + settings) and `harvest serve` as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from devhost.azurite import is_listening
from shared.storage.blobs import BlobStore
from tests.conftest import REPO_ROOT, free_port, wait_until

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

    def store(self) -> BlobStore:
        """The workspace's Blob container, as its runs see it: ``async with ws.store() as store: ...``."""
        return BlobStore.connect(container=self.env["HARVEST_CONTAINER"],
                                 connection_string=self.env["AzureWebJobsStorage"])

    def harvest(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([HARVEST, *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.root)

    def serve(self, port: int | None = None) -> str:
        port = port or free_port()
        log = (self.root / f"serve-{len(self.procs)}.log").open("wb")
        proc = subprocess.Popen([HARVEST, "serve", "--port", str(port), "--no-timers"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        self.procs.append(proc)

        def listening() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"harvest serve exited:\n{self.log()}")
            return is_listening("127.0.0.1", port)

        wait_until(listening, bool, 60, f"harvest serve listening on {port} ({self.root})", 0.1)
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


def new_workspace(root: Path, azurite: str, **env: str) -> Workspace:
    """A workspace in ``root`` (a ``docs`` folder) on its own container and task hub; ``env`` overrides the
    settings (the real e5 model unless ``HARVEST_EMBEDDER`` says otherwise)."""
    (root / "docs").mkdir(exist_ok=True)
    settings = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")},
        "AzureWebJobsStorage": azurite,
        "HARVEST_CONTAINER": f"e2e-{uuid.uuid4().hex[:10]}",
        "HARVEST_TASK_HUB": f"E2E{uuid.uuid4().hex[:10]}",
        "HARVEST_MANIFEST": str(root / "sources.yaml"),
        "HARVEST_EMBEDDER": "e5-small",
        "HARVEST_ALLOWED_PRIVATE_NETWORKS": "127.0.0.1/32",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "HARVEST_DEVHOST_DURABLE_CHECKS": "error",  # a task Azure would not start at once fails the run
        # an Azurite a command starts keeps its data here, never in the repo's .harvest/azurite (the developer's
        # own local data: a second emulator on that directory rewrites its database)
        "HARVEST_AZURITE_DIR": str(root / ".harvest-azurite"),
        # and the search index is the workspace's whatever the command's working directory (a run started from
        # the repo root would otherwise write into, and reset, the developer's own .harvest/index)
        "HARVEST_INDEX_PATH": str(root / ".harvest" / "index"),
        **env,
    }
    return Workspace(root=root, env=settings)


@pytest.fixture
def workspace(tmp_path: Path, azurite: str) -> Iterator[Workspace]:
    ws = new_workspace(tmp_path, azurite)
    ws.manifest("sources:\n  - {id: notes, kind: folder, path: docs}\n")
    yield ws
    ws.stop_all()
