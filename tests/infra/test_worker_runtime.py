"""Harvest as Azure loads it: indexed and validated by Azure's own Python worker (``azure-functions-runtime``).

Each case runs ``worker_index.py`` in a fresh process, which sends the worker runtime a ``WorkerInitRequest``
and a metadata request exactly as devhost does at start (``devhost.worker.Worker.load_script``). One rejected
function fails the whole metadata request in Azure — the host then loads nothing — so the whole list is
asserted, and a control app proves the check fails on the annotation Azure rejects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devhost.interpreter import is_start_setting
from tests.conftest import REPO_ROOT

HERE = Path(__file__).resolve().parent

# (name, trigger, route, methods, auth level) of every function, as the Functions host registers them.
EXPECTED = {
    ("start_run", "http", "runs", ("POST",), "function"),
    ("daily_timer", "timer", None, None, None),
    ("start_compact", "http", "maintenance/compact", ("POST",), "admin"),
    ("get_compact", "http", "maintenance/compact/{job_id}", ("GET",), "admin"),
    ("run_orchestrator", "orchestrator", None, None, None),
    ("source_orchestrator", "orchestrator", None, None, None),
    ("compact_orchestrator", "orchestrator", None, None, None),
    ("source_lane", "orchestrator", None, None, None),
    ("batch_lane", "orchestrator", None, None, None),
    ("compact_lane", "orchestrator", None, None, None),
    ("load_sources", "activity", None, None, None),
    ("open_run", "activity", None, None, None),
    ("close_run", "activity", None, None, None),
    ("begin_source", "activity", None, None, None),
    ("checkpoint", "activity", None, None, None),
    ("finish_source", "activity", None, None, None),
    ("discover", "activity", None, None, None),
    ("prepare", "activity", None, None, None),
    ("embed", "activity", None, None, None),
    ("commit", "activity", None, None, None),
    ("compact_source", "activity", None, None, None),
    ("publish_run", "activity", None, None, None),
    ("publish_index", "activity", None, None, None),
    ("notify_run", "activity", None, None, None),
    ("apply_retention", "activity", None, None, None),
    ("list_runs", "http", "runs", ("GET",), "function"),
    ("get_run", "http", "runs/{run_id}", ("GET",), "function"),
    ("get_run_report", "http", "runs/{run_id}/report", ("GET",), "function"),
    ("purge_run", "http", "runs/{run_id}", ("DELETE",), "admin"),
    ("cancel_run", "http", "runs/{run_id}/cancel", ("POST",), "admin"),
    ("suspend_run", "http", "runs/{run_id}/suspend", ("POST",), "admin"),
    ("resume_run", "http", "runs/{run_id}/resume", ("POST",), "admin"),
    ("get_stats", "http", "stats", ("GET",), "function"),
    ("list_sources", "http", "sources", ("GET",), "function"),
    ("get_source", "http", "sources/{source_id}", ("GET",), "function"),
    ("reset_source", "http", "sources/{source_id}/reset", ("POST",), "admin"),
    ("health", "http", "health", ("GET",), "anonymous"),
    ("openapi", "http", "openapi.json", ("GET",), "anonymous"),
}


def index(app_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH="", HARVEST_SCHEDULE="0 0 2 * * *")
    # the interpreter-start app settings of the local host (Azure starts the worker with them only with
    # useMimalloc: infra/main.bicep allocatorSettings)
    values = json.loads((REPO_ROOT / "local.settings.json").read_text())["Values"]
    env.update({k: v for k, v in values.items() if is_start_setting(k)})
    done = subprocess.run([sys.executable, str(HERE / "worker_index.py"), str(app_dir)], cwd=app_dir, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def harvest() -> dict[str, Any]:
    return index(REPO_ROOT)


def test_the_worker_loads_every_function(harvest: dict[str, Any]) -> None:
    assert harvest["error"] is None
    assert harvest["allocator"] in ("mimalloc", None)  # None: a Python without the test module to ask
    found = {(f["name"], f["trigger"], f["route"], tuple(f["methods"]) if f["methods"] else None, f["auth"])
             for f in harvest["functions"]}
    assert found == EXPECTED, {"missing": EXPECTED - found, "unexpected": found - EXPECTED}


def test_durable_clients_and_schedule(harvest: dict[str, Any]) -> None:
    by_name = {f["name"]: f for f in harvest["functions"]}
    assert by_name["start_run"]["clients"] == ["client"]
    assert by_name["daily_timer"]["clients"] == ["client"]
    assert by_name["daily_timer"]["schedule"] == "%HARVEST_SCHEDULE%"  # resolved by the host from app settings
    assert all(not f["clients"] for f in harvest["functions"] if f["trigger"] == "orchestrator")


def test_the_worker_rejects_a_dict_annotation_with_its_own_message() -> None:
    """Control: the same check fails the moment an activity is annotated ``dict[str, Any]``."""
    bad = index(HERE / "worker_apps" / "bad_annotation")
    assert bad["functions"] == []
    assert "cannot load the echo function: binding payload has invalid non-type annotation" in bad["error"]
    good = index(HERE / "worker_apps" / "good_annotation")
    assert good["error"] is None and [f["name"] for f in good["functions"]] == ["echo"]
