"""Every documented route reaches its own function when routes are tried the way the Functions host tries
them: in function-name order (case-insensitive), first template that matches the path and method wins
(Azure/azure-functions-host#9876). A catch-all or an overlapping template would shadow later routes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from triggers.openapi_spec import openapi

LIST_ROUTES = """
import json
from function_app import app
out = []
for f in app.get_functions():
    for b in json.loads(f.get_function_json())["bindings"]:
        if b["type"] == "httpTrigger":
            out.append({"name": f.get_function_name(), "route": b.get("route"), "methods": b.get("methods"),
                        "auth": b.get("authLevel")})
print(json.dumps(out))
"""

# (method, path, function that must answer it): every route, with ids that look like other routes' literals
EXPECTED = [
    ("POST", "runs", "start_run"),
    ("GET", "runs", "list_runs"),
    ("GET", "runs/run-1", "get_run"),
    ("GET", "runs/report", "get_run"),
    ("GET", "runs/cancel", "get_run"),
    ("DELETE", "runs/run-1", "purge_run"),
    ("GET", "runs/run-1/report", "get_run_report"),
    ("POST", "runs/run-1/cancel", "cancel_run"),
    ("POST", "runs/report/cancel", "cancel_run"),
    ("POST", "runs/run-1/suspend", "suspend_run"),
    ("POST", "runs/run-1/resume", "resume_run"),
    ("GET", "stats", "get_stats"),
    ("GET", "sources", "list_sources"),
    ("GET", "sources/notes", "get_source"),
    ("GET", "sources/reset", "get_source"),
    ("POST", "sources/notes/reset", "reset_source"),
    ("GET", "health", "health"),
    ("GET", "openapi.json", "openapi"),
    ("POST", "maintenance/compact", "start_compact"),
    ("GET", "maintenance/compact/compact-20261206T120000Z-abcdef", "get_compact"),
]
UNROUTED = [("PUT", "runs"), ("GET", "runs/a/b/c"), ("POST", "stats"), ("GET", "nothing"), ("GET", "")]


def segment_matches(template: str, segment: str) -> bool:
    if template.startswith("{") and template.endswith("}"):
        return bool(segment)
    return template.lower() == segment.lower()


def template_matches(route: str, path: str) -> bool:
    """ASP.NET route templates as Harvest uses them: literals (case-insensitive), ``{x}`` (one segment),
    ``{x?}`` (optional last segment) and ``{*x}`` (the rest)."""
    parts, segments = route.strip("/").split("/"), path.strip("/").split("/") if path.strip("/") else []
    for i, part in enumerate(parts):
        if part.startswith("{*"):
            return True
        if i >= len(segments):
            return part.endswith("?}") and i == len(parts) - 1
        if not segment_matches(part, segments[i]):
            return False
    return len(segments) == len(parts)


def first_match(table: list[dict[str, Any]], method: str, path: str) -> str | None:
    for fn in sorted(table, key=lambda f: f["name"].lower()):
        methods = [m.upper() for m in fn["methods"] or []]
        if (not methods or method in methods) and template_matches(fn["route"], path):
            return str(fn["name"])
    return None


@pytest.fixture(scope="module")
def routes() -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    done = subprocess.run([sys.executable, "-c", LIST_ROUTES], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return list(json.loads(done.stdout))


def test_no_catch_all_route(routes: list[dict[str, Any]]) -> None:
    assert [r["name"] for r in routes if "{*" in r["route"] or not r["methods"]] == []


@pytest.mark.parametrize(("method", "path", "function"), EXPECTED)
def test_each_route_reaches_its_function_in_host_order(routes: list[dict[str, Any]], method: str, path: str,
                                                        function: str) -> None:
    assert first_match(routes, method, path) == function


@pytest.mark.parametrize(("method", "path"), UNROUTED)
def test_unknown_routes_reach_no_function(routes: list[dict[str, Any]], method: str, path: str) -> None:
    assert first_match(routes, method, path) is None  # the host answers its own 404


def test_every_documented_operation_is_covered(routes: list[dict[str, Any]]) -> None:
    documented = {(m.upper(), p.strip("/")) for p, ops in openapi()["paths"].items() for m in ops}
    served = {(m.upper(), r["route"].replace("{run_id}", "{id}").replace("{source_id}", "{id}"))
              for r in routes for m in r["methods"]}
    documented = {(m, p.replace("{run_id}", "{id}").replace("{source_id}", "{id}")) for m, p in documented}
    assert documented <= served
    assert served - documented == {("POST", "maintenance/compact"), ("GET", "maintenance/compact/{job_id}")}
    assert {f for _, _, f in EXPECTED} == {r["name"] for r in routes}


def test_a_catch_all_would_be_caught(routes: list[dict[str, Any]]) -> None:
    """Control: the old ``not_found`` (``{*path}``, every method) sorts before ``start_run`` and swallows it."""
    shadowing = [*routes, {"name": "not_found", "route": "{*path}", "methods": None, "auth": "ANONYMOUS"}]
    assert first_match(shadowing, "POST", "runs") == "not_found"
    assert first_match(shadowing, "GET", "runs/run-1") == "get_run"  # sorts before not_found
