"""`harvest serve` with keys configured, as Azure serves the app (issue 25 items 1, 2, 5 and 10): nothing on the
served port answers 2xx without the right key, no response to a caller without the master key carries the
Durable system key, the links' origin is HARVEST_PUBLIC_URL and not the caller's Host header, and what the
host or the app cannot read is a precise 4xx."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from tests.e2e.conftest import Workspace
from tests.e2e.served import workspace

MASTER, FUNCTION, SYSTEM = "master-key-e2e", "function-key-e2e", "system-key-e2e-0123456789"
PUBLIC = "https://harvest.example.org"
DURABLE = "/runtime/webhooks/durabletask"
ANONYMOUS = {"/api/health", "/api/openapi.json"}  # anonymous by design (triggers/health.py, openapi.py)


def call(method: str, url: str, key: str | None = None, **kw: Any) -> requests.Response:
    headers = {**kw.pop("headers", {}), **({"x-functions-key": key} if key else {})}
    return requests.request(method, url, headers=headers, timeout=30, allow_redirects=False, **kw)


def wait_ended(base: str, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (resp := call("GET", f"{base}/api/runs/{run_id}", FUNCTION)).status_code != 200:
        assert resp.status_code == 202 and time.monotonic() < deadline, (resp.status_code, resp.text[:300])
        time.sleep(0.2)
    body: dict[str, Any] = resp.json()
    return body


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> Iterator[tuple[Workspace, str, str]]:
    ws = workspace(tmp_path_factory.mktemp("keys"), azurite, HARVEST_DEVHOST_MASTER_KEY=MASTER,
                   HARVEST_DEVHOST_FUNCTION_KEYS=FUNCTION, HARVEST_DEVHOST_SYSTEM_KEY=SYSTEM,
                   HARVEST_PUBLIC_URL=PUBLIC)
    ws.manifest("sources:\n  - {id: notes, kind: folder, path: docs}\n")
    (ws.docs / "a.md").write_text("# A\n\n" + "Bees keep the hive warm in winter. " * 20)
    base = ws.serve()
    started = call("POST", f"{base}/api/runs", FUNCTION, json={})
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    wait_ended(base, run_id)
    yield ws, base, run_id
    ws.stop_all()


def every_request(run_id: str) -> list[tuple[str, str]]:
    """Every route of the served port (Harvest's, the Durable webhook API in several spellings, the admin API)
    and the paths where the SDK's unkeyed RPC endpoint used to answer."""
    harvest = [("POST", "/api/runs"), ("GET", "/api/runs"), ("GET", f"/api/runs/{run_id}"),
               ("DELETE", f"/api/runs/{run_id}"), ("GET", f"/api/runs/{run_id}/report"),
               ("POST", f"/api/runs/{run_id}/cancel"), ("POST", f"/api/runs/{run_id}/suspend"),
               ("POST", f"/api/runs/{run_id}/resume"), ("GET", "/api/stats"), ("GET", "/api/sources"),
               ("GET", "/api/sources/notes"), ("POST", "/api/sources/notes/reset"),
               ("POST", "/api/maintenance/compact"),
               ("GET", "/api/health"), ("GET", "/api/openapi.json"), ("GET", "/API/RUNS"), ("POST", "/Api/Runs")]
    durable: list[tuple[str, str]] = []
    for prefix in (DURABLE, DURABLE.upper(), "/Runtime/WebHooks/DurableTask", "/durabletask-rpc", "/durabletask"):
        durable += [("GET", f"{prefix}/instances"), ("GET", f"{prefix}/instances/"), ("DELETE", f"{prefix}/instances"),
                    ("GET", f"{prefix}/instances/{run_id}"), ("DELETE", f"{prefix}/instances/{run_id}"),
                    ("POST", f"{prefix}/instances/{run_id}/terminate"),
                    ("POST", f"{prefix}/instances/{run_id}/Suspend"),
                    ("POST", f"{prefix}/instances/{run_id}/resume"), ("POST", f"{prefix}/instances/{run_id}/restart"),
                    ("POST", f"{prefix}/instances/{run_id}/raiseEvent/go"),
                    ("POST", f"{prefix}/orchestrators/run_orchestrator/intruder"),
                    ("POST", f"{prefix}/orchestrators/run_orchestrator")]
    admin = [("GET", "/admin/host/status"), ("POST", "/admin/functions/daily_run"), ("GET", "/ADMIN/HOST/STATUS")]
    return harvest + durable + admin


@pytest.mark.parametrize("key", [None, "wrong", "clé", "🔑" * 20, SYSTEM[:-1]])
def test_nothing_on_the_served_port_answers_2xx_without_the_right_key(
        keyed: tuple[Workspace, str, str], key: str | None) -> None:
    _, base, run_id = keyed
    answered = []
    for method, path in every_request(run_id):
        url = base + path + (f"?code={quote(key)}" if key else "")
        resp = call(method, url, json={})
        if (200 <= resp.status_code < 300 and path not in ANONYMOUS) or resp.status_code >= 500:
            answered.append((method, path, resp.status_code, resp.text[:200]))
    assert answered == []
    # nothing was started or removed past the keys: the intruder instance does not exist, the run does
    assert call("GET", f"{base}{DURABLE}/instances/intruder", MASTER).status_code == 404
    assert call("GET", f"{base}{DURABLE}/instances/{run_id}", MASTER).json()["runtimeStatus"] == "Completed"


def test_no_response_to_a_caller_without_the_master_key_carries_the_system_key(
        keyed: tuple[Workspace, str, str]) -> None:
    _, base, run_id = keyed
    # the master key opens the Durable API; the system key too (it is what management links carry)
    assert call("GET", f"{base}{DURABLE}/instances", MASTER).status_code == 200
    assert call("GET", f"{base}{DURABLE}/instances?code={SYSTEM}").status_code == 200
    leaks = []
    for key in (None, FUNCTION, "wrong"):
        for method, path in every_request(run_id):
            if method == "POST" and path.lower() == "/api/runs":
                continue  # a new run: below, once
            resp = call(method, base + path, key, json={})
            text = resp.text + "".join(f"{k}: {v}" for k, v in resp.headers.items())
            if SYSTEM in text:
                leaks.append((key, method, path, resp.status_code))
    started = call("POST", f"{base}/api/runs", FUNCTION, json={})
    busy = call("POST", f"{base}/api/runs", FUNCTION, json={})
    for resp in (started, busy):
        assert SYSTEM not in resp.text + str(resp.headers)
    assert started.status_code == 202 and busy.status_code in (202, 409)
    wait_ended(base, started.json()["run_id"])
    assert leaks == []


def test_links_use_the_public_url_not_the_callers_host_header(keyed: tuple[Workspace, str, str]) -> None:
    _, base, run_id = keyed
    forged = {"Host": "attacker.example:666", "X-Forwarded-Host": "attacker.example"}
    status = call("GET", f"{base}/api/runs/{run_id}/cancel", FUNCTION, headers=forged)  # no such GET route
    assert status.status_code == 404
    started = call("POST", f"{base}/api/runs", FUNCTION, json={"dry_run": True}, headers=forged)
    busy = call("POST", f"{base}/api/runs", FUNCTION, json={"dry_run": True}, headers=forged)
    for resp in (started, busy):
        assert resp.status_code in (202, 409), resp.text
        assert "attacker" not in resp.text + str(resp.headers)
        assert resp.headers["Location"].startswith(f"{PUBLIC}/api/runs/")
    body = started.json()
    assert all(body[k].startswith(f"{PUBLIC}/api/runs/{body['run_id']}") for k in
               ("statusQueryGetUri", "reportGetUri", "cancelPostUri", "suspendPostUri", "resumePostUri"))
    wait_ended(base, body["run_id"])


def test_unreadable_requests_are_precise_4xx_in_json(keyed: tuple[Workspace, str, str]) -> None:
    _, base, run_id = keyed
    cases: list[tuple[str, str, str | None, dict[str, Any], int]] = [
        ("POST", "/api/runs", FUNCTION, {"data": b'{"sources": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"}, 400),
        ("POST", "/api/runs", FUNCTION, {"data": b"not gzip", "headers": {"Content-Encoding": "gzip"}}, 415),
        ("POST", "/api/runs", FUNCTION, {"data": gzip.compress(b"{}"), "headers": {"Content-Encoding": "gzip"}}, 415),
        ("POST", "/api/runs/run-x/cancel", MASTER, {"data": b"[" * 3000}, 400),
        ("POST", "/api/sources/notes/reset", MASTER, {"data": b"x", "headers": {"Content-Encoding": "br"}}, 415),
        ("POST", f"/api/runs/{run_id}/suspend", MASTER, {"data": b'{"reason": "\\ud800"}'}, 400),  # was 500
        ("POST", "/api/runs", FUNCTION, {"data": b'{"sources": ["notes"], "sources": ["x"]}'}, 400),
        ("POST", "/api/maintenance/compact", MASTER, {"data": b"{\"a\":" * 2000}, 400),
        ("GET", "/api/runs?limit=%EF%BC%93", FUNCTION, {}, 400),  # full-width 3
        ("GET", "/api/runs?limit=%D9%A3", FUNCTION, {}, 400),  # Arabic-Indic 3
        ("GET", "/api/stats?days=%D9%A3%D9%A0", FUNCTION, {}, 400),
        ("GET", f"{DURABLE}/instances?createdTimeFrom=garbage", MASTER, {}, 400),
        ("DELETE", f"{DURABLE}/instances?createdTimeFrom=garbage", MASTER, {}, 400),
        ("GET", f"{DURABLE}/instances?createdTimeTo=2026-13-45", MASTER, {}, 400),
        ("GET", f"{DURABLE}/instances?top=%EF%BC%93", MASTER, {}, 400),
        ("POST", f"{DURABLE}/orchestrators/run_orchestrator/deep", MASTER, {"data": b"[" * 100 + b"]" * 100}, 400),
    ]
    wrong = []
    for method, path, key, kw, expected in cases:
        resp = call(method, base + path, key, **kw)
        ok = resp.status_code == expected and resp.headers.get("Content-Type", "").startswith("application/json")
        if not ok or "Traceback" in resp.text:
            wrong.append((method, path[:60], expected, resp.status_code, resp.text[:200]))
    assert wrong == []


def test_routes_are_case_insensitive_and_empty_segments_match_nothing(keyed: tuple[Workspace, str, str]) -> None:
    _, base, run_id = keyed
    assert call("GET", f"{base}/API/RUNS?limit=5", FUNCTION).json()["runs"][0]["run_id"]
    assert call("GET", f"{base}/Api/Runs/{run_id}", FUNCTION).status_code == 200
    for path in ("//api//runs", "/api//runs", "//api/runs", f"/api/runs//{run_id}", "/api/runs/x//report"):
        resp = requests.get(f"{base}{path}", headers={"x-functions-key": FUNCTION}, timeout=30)
        assert (resp.status_code, resp.content) == (404, b""), path


def test_resume_works_with_keys_configured_and_no_master_key(workspace: Workspace) -> None:
    """`harvest resume` listed unfinished runs on the keyed webhook API with the master key, and without one
    (function keys only) got a 401 and died with a TypeError traceback; it asks its own RPC endpoint now."""
    workspace.env["HARVEST_DEVHOST_FUNCTION_KEYS"] = FUNCTION
    done = workspace.harvest("resume")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no unfinished runs" in done.stderr and "Traceback" not in done.stderr
