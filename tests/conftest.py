"""Shared fixtures: a private Azurite for the whole test session, and unique task hubs."""

from __future__ import annotations

import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import AzuriteError, azurite_connection_string, start_azurite

REPO_ROOT = Path(__file__).resolve().parent.parent
# Stock Azurite scans every blob it holds on many requests and re-sorts its indices after each delete, so one
# emulator for the whole session slows as the suite fills it (it stalled at 100 % CPU for minutes on
# 2026-11-27). The bench's lookup patch makes those costs independent of the blob count, same results.
LOOKUP_PATCH = REPO_ROOT / "bench" / "azurite_lookup_patch.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Connection string of an in-memory Azurite started for this test session only."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="azurite-") as location:
        try:
            proc = start_azurite(port=port, location=Path(location), repo_root=REPO_ROOT, in_memory=True,
                                 preload=LOOKUP_PATCH)
        except AzuriteError as exc:
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


@pytest.fixture(scope="session", autouse=True)
def _index_path() -> Iterator[None]:
    """The search index (LanceDB by default) of in-process runs goes to a directory of this session, never
    to the working directory's ``.harvest/index`` (a developer's own index)."""
    import os

    with tempfile.TemporaryDirectory(prefix="index-") as path:
        before = os.environ.get("HARVEST_INDEX_PATH")
        os.environ["HARVEST_INDEX_PATH"] = path
        try:
            yield
        finally:
            if before is None:
                os.environ.pop("HARVEST_INDEX_PATH", None)
            else:
                os.environ["HARVEST_INDEX_PATH"] = before


@pytest.fixture
def task_hub() -> str:
    """A task hub name (hence container) nobody else uses."""
    return f"T{uuid.uuid4().hex[:12]}"


# -- The network guard (issue #5): no test may connect outside loopback, even if the product's guard breaks.
from tests import netguard  # noqa: E402

NETGUARD_SITE = str(REPO_ROOT / "tests" / "netguard_site")


@pytest.fixture(scope="session", autouse=True)
def _network_guard() -> Iterator[None]:
    netguard.install()
    yield
    netguard.uninstall()


@pytest.fixture(autouse=True)
def _no_connection_outside_loopback(_network_guard: None) -> Iterator[None]:
    before = len(netguard.violations)
    yield
    if len(netguard.violations) > before:
        pytest.fail(f"connection attempted outside loopback: {netguard.violations[before:]}")
