"""Azurite (Blob emulator) helpers: connection strings, discovery, install and start."""

from __future__ import annotations

import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("harvest.devhost")

AZURITE_VERSION = "3.35.0"
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
START_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1
_prctl: Any
try:  # looked up here, not in the forked child
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


class AzuriteError(Exception):
    """Azurite could not be found, installed or started."""


def azurite_connection_string(port: int = 10000, host: str = "127.0.0.1") -> str:
    """The well-known development-storage connection string (blob endpoint only)."""
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{host}:{port}/{ACCOUNT_NAME};"
    )


def resolve_storage(conn: str) -> tuple[str, bool]:
    """Map ``UseDevelopmentStorage=true`` to the explicit Azurite string; tell if it is the emulator."""
    text = conn.strip()
    if text.lower().replace(" ", "").rstrip(";") == "usedevelopmentstorage=true":
        return azurite_connection_string(), True
    is_emulator = ACCOUNT_NAME in text or "127.0.0.1" in text or "localhost" in text
    return text, is_emulator


def is_listening(host: str, port: int) -> bool:
    """True if something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def find_azurite_binary(repo_root: Path) -> Path | None:
    """``node_modules/.bin/azurite-blob`` under the repo root, if installed."""
    candidate = Path(repo_root) / "node_modules" / ".bin" / "azurite-blob"
    return candidate if candidate.exists() else None


def _install_azurite(repo_root: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise AzuriteError(
            "Node.js/npm not found: install Node 20 (https://nodejs.org) so the Azurite storage "
            f"emulator can be installed with `npm install --no-save azurite@{AZURITE_VERSION}`."
        )
    log.info("installing azurite@%s with npm in %s (about 20 s)", AZURITE_VERSION, repo_root)
    cmd = [npm, "install", "--no-save", "--no-audit", "--no-fund", f"azurite@{AZURITE_VERSION}"]
    proc = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, check=False)
    binary = find_azurite_binary(repo_root)
    if proc.returncode != 0 or binary is None:
        tail = (proc.stderr or proc.stdout or "")[-2000:]
        raise AzuriteError(f"`npm install azurite@{AZURITE_VERSION}` failed (exit {proc.returncode}):\n{tail}")
    return binary


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started Azurite dies (even by SIGKILL)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _log_tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return ""


def start_azurite(
    *, port: int, location: Path | None, repo_root: Path, in_memory: bool = False, preload: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``azurite-blob`` on 127.0.0.1:port and wait until it answers (installs it if missing).

    ``preload``: a script Node loads before Azurite (``node --require``); the tests and the benchmark
    preload ``bench/azurite_lookup_patch.js``, which makes lookups by blob name and single deletes cost
    the same however many blobs the emulator holds (same results)."""
    proc = launch_azurite(port=port, location=location, repo_root=repo_root, in_memory=in_memory, preload=preload)
    wait_for_azurite(proc, port)
    return proc


def _log_path(location: Path, port: int) -> Path:
    return location / f"azurite-{port}.log"


def launch_azurite(
    *, port: int, location: Path | None, repo_root: Path, in_memory: bool = False, preload: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``azurite-blob`` on 127.0.0.1:port without waiting for it (``wait_for_azurite``), so the caller
    can do its own start-up meanwhile (Node takes ~0.6 s to load Azurite). ``say`` is told about a wait
    (installing it with npm)."""
    repo_root = Path(repo_root)
    binary = find_azurite_binary(repo_root)
    if binary is None:
        if say is not None:
            say(f"installing the Azurite storage emulator (npm install azurite@{AZURITE_VERSION}, about 20 s) ...")
        binary = _install_azurite(repo_root)
    if location is None:
        location = repo_root / ".azurite"
    location = Path(location)
    location.mkdir(parents=True, exist_ok=True)
    cmd = [str(binary)]
    if preload is not None:
        node = shutil.which("node")
        if node is None:
            raise AzuriteError("Node.js not found: install Node 20 (https://nodejs.org) to run Azurite")
        cmd = [node, "--require", str(preload), str(binary.resolve())]  # .bin/azurite-blob links to main.js
    cmd += ["--blobHost", "127.0.0.1", "--blobPort", str(port)]
    # Azurite refuses --location together with --inMemoryPersistence; the directory then only holds the log
    cmd += ["--inMemoryPersistence"] if in_memory else ["--location", str(location)]
    cmd += ["--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
    log_file = _log_path(location, port).open("wb")
    try:
        # its own session: the terminal's Ctrl-C goes to the CLI, which stops its host first and then Azurite
        proc = subprocess.Popen(cmd, cwd=repo_root, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    except OSError as exc:
        raise AzuriteError(f"could not run {binary}: {exc}") from exc
    finally:
        log_file.close()
    setattr(proc, "log_path", _log_path(location, port))  # noqa: B010  # for wait_for_azurite's error message
    return proc


def wait_for_azurite(proc: subprocess.Popen[bytes], port: int, *, say: Callable[[str], None] | None = None,
                     quiet_for: float = 2.0) -> None:
    """Wait (at most ``START_TIMEOUT_S``) until the Azurite ``launch_azurite`` started answers on port; past
    ``quiet_for`` seconds ``say`` is told what is waited for. ``AzuriteError`` (and the process stopped)
    when it exits or does not answer in time."""
    log_path: Path = getattr(proc, "log_path", Path("/dev/null"))
    started = time.monotonic()
    deadline = started + START_TIMEOUT_S
    told = say is None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AzuriteError(f"azurite exited with code {proc.returncode}:\n{_log_tail(log_path)}")
        if is_listening("127.0.0.1", port):
            log.info("azurite listening on 127.0.0.1:%d (pid %d)", port, proc.pid)
            return
        if not told and time.monotonic() - started > quiet_for:
            assert say is not None
            say(f"waiting for the Azurite storage emulator to start on 127.0.0.1:{port} (up to "
                f"{START_TIMEOUT_S:.0f} s) ...")
            told = True
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    raise AzuriteError(
        f"azurite did not answer on 127.0.0.1:{port} within {START_TIMEOUT_S:.0f} s:\n{_log_tail(log_path)}"
    )
