"""Shared fixtures: a private Azurite for the whole test session, and unique task hubs; and the helpers every
folder uses: a local host for an app (``running_host``) and bounded waits for an event (``wait_until``,
``eventually``) — a test waits for what it needs to have happened, never for a fixed time."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devhost.azurite import AzuriteError, azurite_connection_string, start_azurite

if TYPE_CHECKING:
    from devhost.host import LocalHost

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


@contextlib.asynccontextmanager
async def running_host(app: Any, azurite: str, task_hub: str | None = None, **options: Any) -> AsyncIterator[LocalHost]:
    """A local host serving ``app`` on a free port, on ``task_hub`` (its own if not given), timers fired only when
    ``fire_timers=True``; stopped when the block ends."""
    from devhost.host import LocalHost

    host = LocalHost(app, connection_string=azurite, task_hub=task_hub or f"H{uuid.uuid4().hex[:10]}", port=0,
                     **{"fire_timers": False, **options})
    await host.start()
    try:
        yield host
    finally:
        await host.stop()


def wait_until[T](fetch: Callable[[], T], done: Callable[[T], bool], timeout: float = 120, what: str = "condition",
                  interval: float = 0.2) -> T:
    """Poll ``fetch()`` until ``done(value)``; fail with the last value after ``timeout`` seconds (a hang guard)."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g} s: {value}")
        time.sleep(interval)
        value = fetch()
    return value


def holds[T](fetch: Callable[[], T], ok: Callable[[T], bool], seconds: float, what: str = "condition",
             interval: float = 0.1) -> None:
    """For what must *not* happen (a suspended run must not move on): check ``ok(fetch())`` again and again for
    ``seconds``, failing at the first value that breaks it. There is no event to wait for here, so the window is
    the test's own choice, not a guess at how long something takes."""
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        assert ok(value), f"{what} broken: {value}"
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


async def holds_async[T](fetch: Callable[[], Awaitable[T]], ok: Callable[[T], bool], seconds: float,
                         what: str = "condition", interval: float = 0.02) -> None:
    """``holds`` for a coroutine."""
    deadline = time.monotonic() + seconds
    while True:
        value = await fetch()
        assert ok(value), f"{what} broken: {value}"
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(interval)


async def eventually[T](fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 30,
                        what: str = "condition", interval: float = 0.02) -> T:
    """``wait_until`` for a coroutine: await ``fetch()`` until ``done(value)``, at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = await fetch()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g} s: {value}")
        await asyncio.sleep(interval)
        value = await fetch()
    return value


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
