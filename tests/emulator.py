"""One in-memory Azurite on a free port, for as long as the generator is suspended (the ``azurite``
fixtures). Stock Azurite scans every blob it holds on many requests and re-sorts its indices after each
delete, so a single emulator for the whole session gets slower as the suite fills it (it stalled at 100 %
CPU for minutes on 2026-11-27); it starts with the bench's lookup patch (``bench/azurite_lookup_patch.js``:
same results, lookups by name through the index, deletes updating indices in place), and packages that
drive many runs through it get their own."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness import start_emulator
from devhost.azurite import AzuriteError, azurite_connection_string


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_azurite() -> Iterator[str]:
    """Connection string of a fresh in-memory Azurite, stopped when the generator is closed."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as location:
        try:
            proc = start_emulator(port, Path(location), patched=True)
        except (AzuriteError, RuntimeError) as exc:
            pytest.fail(f"cannot start Azurite for the tests: {exc}")
        try:
            yield azurite_connection_string(port)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except Exception:
                proc.kill()
                proc.wait()
