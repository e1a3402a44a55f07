"""The HTTP API keeps its OpenAPI document true: schemathesis fuzzes every documented operation against
`harvest serve` (no 5xx, no traceback, only documented status codes, bodies match their schemas), and 50
malformed or hostile requests get the documented 4xx with the one error shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from tests.e2e.conftest import Workspace
from tests.e2e.served import wait_run, workspace

MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, azurite: str) -> Iterator[tuple[Workspace, str]]:
    ws = workspace(tmp_path_factory.mktemp("contract"), azurite)
    ws.manifest("sources:\n  - {id: notes, kind: folder, path: docs}\n")
    (ws.docs / "a.md").write_text("# A\n\n" + "Some words about honey and hives. " * 30)
    base = ws.serve()
    run_id = requests.post(f"{base}/api/runs", json={}, timeout=30).json()["run_id"]
    wait_run(base, run_id)
    yield ws, base
    ws.stop_all()


def test_every_documented_operation_holds_its_contract(served: tuple[Workspace, str]) -> None:
    """Hypothesis cases per operation (bounded), sent to the running host; every response checked."""
    document = requests.get(f"{served[1]}/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=f"{served[1]}/api")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    calls: list[tuple[str, str, int]] = []

    def exercise(case: Any) -> None:
        response = case.call(timeout=30)
        calls.append((case.method, case.path, response.status_code))
        assert "Traceback" not in response.text
        case.validate_response(response, checks=checks)
        if response.status_code >= 400:
            body = response.json()
            assert isinstance(body["error"], str) and isinstance(body["details"], list)

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        run = settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                       suppress_health_check=list(HealthCheck))(given(case=operation.as_strategy())(exercise))
        run()
    fuzzed = {(m.upper(), p) for m, p, _ in calls}
    assert len(fuzzed) == len(operations) >= 14
    assert {code for _, _, code in calls} >= {200, 202, 400, 404}


def test_negative_cases_never_get_a_server_error(served: tuple[Workspace, str]) -> None:
    """Schemathesis' negative mode (values, types and headers the document rules out) on every operation: each
    answered below 500, in JSON when it is an error the app answered (the host's own 404s and 401s are empty)."""
    document = requests.get(f"{served[1]}/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=f"{served[1]}/api")
    schema.config.generation.update(modes=[GenerationMode.NEGATIVE])
    wrong: list[tuple[str, str, int, str]] = []

    def exercise(case: Any) -> None:
        response = case.call(timeout=30)
        kind = (response.headers.get("content-type") or [""])[0]
        app_error = response.status_code >= 400 and response.content
        if response.status_code >= 500 or "Traceback" in response.text or (app_error and "json" not in kind):
            wrong.append((case.method, case.formatted_path, response.status_code, response.text[:200]))

    for operation in [result.ok() for result in schema.get_all_operations()]:
        settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))(given(case=operation.as_strategy())(exercise))()
    assert wrong == []


HOSTILE: list[tuple[str, str, dict[str, Any], int]] = [
    # bad JSON, wrong types, unknown fields
    ("POST", "/api/runs", {"data": b"{not json"}, 400),
    ("POST", "/api/runs", {"data": b"[1,2,3]"}, 400),
    ("POST", "/api/runs", {"data": b'"a string"'}, 400),
    ("POST", "/api/runs", {"data": b"\xff\xfe\x00garbage"}, 400),
    ("POST", "/api/runs", {"json": {"sources": "notes"}}, 400),
    ("POST", "/api/runs", {"json": {"sources": [1, 2]}}, 400),
    ("POST", "/api/runs", {"json": {"dry_run": "yes"}}, 400),
    ("POST", "/api/runs", {"json": {"full_refresh": 1}}, 400),
    ("POST", "/api/runs", {"json": {"sources": ["../../etc/passwd"]}}, 400),
    ("POST", "/api/runs", {"json": {"__proto__": {"admin": True}}}, 400),
    ("POST", "/api/runs", {"json": {"sources": ["notes"]}, "headers": {"Idempotency-Key": "cl\u00e9"}}, 400),
    ("POST", "/api/runs", {"json": {}, "headers": {"Idempotency-Key": "k" * 300}}, 400),
    ("POST", "/api/runs", {"json": {}, "headers": {"X-Harvest-Trigger": "timer"}}, 400),
    ("POST", "/api/runs/run-x/cancel", {"data": b"{oops"}, 400),
    ("POST", "/api/runs/run-x/suspend", {"json": {"reason": 42}}, 400),
    ("POST", "/api/runs/run-x/resume", {"json": {"reason": "ok", "force": True}}, 400),
    ("POST", "/api/runs/run-x/resume", {"json": ["reason"]}, 400),
    ("POST", "/api/sources/notes/reset", {"json": {"reason": "x" * 600}}, 400),
    # huge bodies
    ("POST", "/api/runs", {"data": b'{"sources": [' + b'"a",' * 40_000 + b'"a"]}'}, 413),
    ("POST", "/api/runs/run-x/cancel", {"data": b'{"reason": "' + b"x" * 10_000 + b'"}'}, 413),
    ("POST", "/api/sources/notes/reset", {"data": b" " * 5000 + b"{}"}, 413),
    # bad query parameters
    ("GET", "/api/runs", {"params": {"limit": "0"}}, 400),
    ("GET", "/api/runs", {"params": {"limit": "1000"}}, 400),
    ("GET", "/api/runs", {"params": {"limit": "-5"}}, 400),
    ("GET", "/api/runs", {"params": {"limit": "ten"}}, 400),
    ("GET", "/api/runs", {"params": {"status": "exploded"}}, 400),
    ("GET", "/api/runs", {"params": {"since": "yesterday"}}, 400),
    ("GET", "/api/runs", {"params": {"source": "NOT VALID"}}, 400),
    ("GET", "/api/runs", {"params": {"continuation": "not-a-token"}}, 400),
    ("GET", "/api/runs", {"params": {"continuation": "eyJtIjpudWxsLCJrIjoicnVucy1pbmRleC94IiwicSI6IngifQ"}}, 400),
    ("GET", "/api/runs", {"params": {"continuation": "%%%"}}, 400),
    ("GET", "/api/runs", {"params": {"drop": "table"}}, 400),
    ("GET", "/api/stats", {"params": {"days": "0"}}, 400),
    ("GET", "/api/stats", {"params": {"days": "99999999999"}}, 400),
    ("GET", "/api/stats", {"params": {"days": "1e3"}}, 400),
    # unknown ids and path tricks
    ("GET", "/api/runs/run-20990101T000000Z-ffffff", {}, 404),
    ("GET", "/api/runs/run-nope/report", {}, 404),
    ("DELETE", "/api/runs/run-nope", {}, 404),
    ("POST", "/api/runs/run-nope/cancel", {}, 404),
    ("POST", "/api/runs/run-nope/suspend", {}, 404),
    ("GET", "/api/sources/nope", {}, 404),
    ("POST", "/api/sources/nope/reset", {}, 404),
    ("GET", "/api/runs/%2e%2e", {}, 400),
    ("GET", "/api/sources/UPPER", {}, 400),
    ("GET", "/api/runs/a%00b", {}, 400),
    ("GET", "/api/runs/run-x/report", {"params": {"x": "1"}}, 400),
    ("POST", "/api/runs/run-nope/resume", {}, 404),
    ("POST", "/api/runs", {"json": {"sources": []}, "headers": {"Idempotency-Key": "k" * 201}}, 400),
    ("POST", "/api/runs", {"json": {"sources": ["notes"], "full_refresh": None}}, 400),
    ("POST", "/api/runs/run-x/suspend", {"data": b"{}" * 3000}, 413),
    ("GET", "/api/sources", {"params": {"x": "1"}}, 400),
    ("DELETE", "/api/runs/run-x", {"params": {"force": "1"}}, 400),
]
# No function serves these (paths and methods no route template matches): the host answers them itself
# (404), the app never sees them. There is no catch-all route: in the host's order it would shadow others.
UNROUTED: list[tuple[str, str]] = [
    ("GET", "/api/runs/..%2F..%2Fstate"),
    ("GET", "/api/runs/x/y/z/w"),
    ("GET", "/api/..%2Fadmin/host/status"),
    ("GET", "/api/nothing-here"),
    ("PUT", "/api/runs"),
    ("PATCH", "/api/runs/run-x"),
    ("GET", "/api/runs/run-x/cancel"),
    ("DELETE", "/api/sources/notes"),
    ("POST", "/api/stats"),
    ("POST", "/api/health"),
]


def test_fifty_hostile_requests_get_documented_4xx(served: tuple[Workspace, str]) -> None:
    base = served[1]
    assert len(HOSTILE) >= 50
    wrong = []
    for method, path, kwargs, expected in HOSTILE:
        resp = requests.request(method, base + path, timeout=30, **kwargs)
        body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else None
        shape = isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("details"), list)
        if resp.status_code != expected or not shape or "Traceback" in resp.text:
            wrong.append((method, path, expected, resp.status_code, resp.text[:200]))
    assert wrong == []


def test_unrouted_requests_get_the_hosts_404(served: tuple[Workspace, str]) -> None:
    wrong = []
    for method, path in UNROUTED:
        resp = requests.request(method, served[1] + path, timeout=30)
        if resp.status_code != 404 or "Traceback" in resp.text:
            wrong.append((method, path, resp.status_code, resp.text[:200]))
    assert wrong == []


def follow(url: str, deadline_s: float = 180) -> requests.Response:
    """A client written for Durable's HTTP API: GET the status URL, and while it answers 202 wait as
    ``Retry-After`` says and follow ``Location``, until a 200."""
    deadline = time.monotonic() + deadline_s
    while True:
        resp = requests.get(url, timeout=30)
        if resp.status_code != 202:
            return resp
        assert int(resp.headers["Retry-After"]) >= 1 and time.monotonic() < deadline, resp.text
        url = resp.headers["Location"]
        time.sleep(min(float(resp.headers["Retry-After"]), 1.0))  # bounded by the test's deadline


def test_a_durable_style_client_runs_harvest_unchanged(served: tuple[Workspace, str]) -> None:
    """POST the starter, follow ``Location`` until 200, read ``runtimeStatus`` and ``output``: the Durable
    status schema, no system key anywhere."""
    base = served[1]
    started = requests.post(f"{base}/api/runs", json={}, timeout=30)
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["id"] == body["run_id"] and started.headers["Location"] == body["statusQueryGetUri"]
    done = follow(started.headers["Location"])
    assert done.status_code == 200
    status = done.json()
    assert (status["name"], status["instanceId"], status["runtimeStatus"]) == (
        "run_orchestrator", body["id"], "Completed")
    assert status["output"]["run_id"] == body["id"] and status["output"]["status"] == "completed"
    assert status["input"]["run_id"] == body["id"] and status["createdTime"] <= status["lastUpdatedTime"]
    assert status["customStatus"]["phase"] == "done" and "code=" not in started.text + done.text


def test_a_compaction_job_is_followed_the_same_way(served: tuple[Workspace, str]) -> None:
    base = served[1]
    started = requests.post(f"{base}/api/maintenance/compact", json={"keep": 2}, timeout=30)
    assert started.status_code == 202, started.text
    body = started.json()
    assert set(body) == {"id", "statusQueryGetUri"} and "/runtime/webhooks/" not in started.text
    done = follow(started.headers["Location"])
    status = done.json()
    assert done.status_code == 200 and status["runtimeStatus"] == "Completed"
    assert status["output"]["keep"] == 2 and set(status["output"]["sources"]) == {"notes"}
    missing = requests.get(f"{base}/api/maintenance/compact/compact-20000101T000000Z-abcdef", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "compaction job not found"
    assert requests.get(f"{base}/api/maintenance/compact/run-1", timeout=10).status_code == 400
