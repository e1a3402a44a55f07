"""The layers, checked on every module's imports (read with ``ast``, nothing imported):

- ``shared/`` is the host-free core: no Functions or Durable package, and none of the packages around it;
- ``orchestrators/`` are pure: besides the Durable SDK and each other, only the pure parts of ``shared``
  (contracts, models, names, errors, outcome and progress rules, the envelope);
- ``devhost/`` is a host: it knows nothing of the app it runs;
- ``cli/`` is a client of the app's HTTP API, its storage and the local host: it does not reach into
  ``orchestrators/``, ``triggers/`` or ``activities/``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_SHARED = {"shared.contracts", "shared.models", "shared.names", "shared.errors", "shared.runs.outcome",
               "shared.runs.progress", "shared.envelope"}
RULES: dict[str, tuple[set[str], set[str]]] = {
    # package: (forbidden import prefixes, allowed exceptions among them)
    "shared": ({"azure.functions", "azure.durable_functions", "activities", "orchestrators", "triggers", "cli",
                "devhost", "function_app"}, set()),
    "orchestrators": ({"shared", "activities", "triggers", "cli", "devhost", "azure.storage", "aiohttp",
                       "asyncio"}, PURE_SHARED),
    "devhost": ({"shared", "activities", "orchestrators", "triggers", "cli", "function_app"}, set()),
    "cli": ({"orchestrators", "triggers", "activities"}, set()),
}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with its line (``from x import y`` gives ``x.y``: what it takes)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(package: str) -> list[str]:
    forbidden, allowed = RULES[package]
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, name in imports(path):
            if any(matches(name, p) for p in forbidden) and not any(matches(name, a) for a in allowed):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(RULES))
def test_layer_rules(package: str) -> None:
    assert violations(package) == []


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    """Control: a module that breaks a rule is reported with its line."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom triggers.instances import DurableOrchestrations\n")
    names = [name for _, name in imports(bad)]
    assert names == ["os", "triggers.instances.DurableOrchestrations"] and matches(names[1], "triggers")
    assert not matches("triggersx", "triggers") and matches("shared.models.X", "shared.models")
