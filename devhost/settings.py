"""host.json / local.settings.json loading for the local host."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_HUB = "HarvestHub"


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    return data if isinstance(data, dict) else {}


def load_host_settings(repo_root: Path) -> dict[str, Any]:
    """hubName and concurrency limits from host.json (extensions.durableTask)."""
    data = _read_json(Path(repo_root) / "host.json")
    durable = data.get("extensions", {}).get("durableTask", {}) or {}
    settings: dict[str, Any] = {"hubName": durable.get("hubName") or DEFAULT_HUB}
    hub = str(settings["hubName"])
    if hub.startswith("%") and hub.endswith("%") and len(hub) > 2:
        settings["hubName"] = os.environ.get(hub[1:-1], DEFAULT_HUB)
    for key in ("maxConcurrentActivityFunctions", "maxConcurrentOrchestratorFunctions"):
        if key in durable:
            settings[key] = int(durable[key])
    if "functionTimeout" in data:
        settings["functionTimeout"] = str(data["functionTimeout"])
    return settings


def load_local_settings(repo_root: Path) -> dict[str, str]:
    """local.settings.json "Values" merged with the environment (environment wins)."""
    values = _read_json(Path(repo_root) / "local.settings.json").get("Values", {}) or {}
    merged = {str(k): str(v) for k, v in values.items()}
    for key in list(merged):
        if key in os.environ:
            merged[key] = os.environ[key]
    return merged


def apply_local_settings(repo_root: Path) -> dict[str, str]:
    """Put local.settings.json values that are not already set into os.environ; return the merge."""
    merged = load_local_settings(repo_root)
    for key, value in merged.items():
        os.environ.setdefault(key, value)
    return merged
