"""Fixtures for the deployment tests: every Bicep file of infra/, parsed once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.infra.bicep import BicepFile

INFRA = REPO_ROOT / "infra"


def bicep_paths() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@pytest.fixture(scope="session")
def templates() -> dict[str, BicepFile]:
    """``{"main": ..., "storage": ..., ...}`` keyed by file stem."""
    return {path.stem: BicepFile.load(path) for path in bicep_paths()}
