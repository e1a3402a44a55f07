"""Shared fixtures: a private Azurite for the whole test session, and unique task hubs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator import free_port, run_azurite  # noqa: F401 - free_port: other tests import it from here

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def azurite() -> Iterator[str]:
    """Connection string of an in-memory Azurite started for this test session only (a package may
    override it with its own: ``tests/shared/pipeline/conftest.py``)."""
    yield from run_azurite()


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
