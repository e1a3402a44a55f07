"""What the Functions host would see: the app indexed as the Python worker indexes it, in a fresh process.

Checks what the worker and host reject at load time (one trigger per function, bindings matching the
Python parameters, unique valid names), what Harvest relies on (HTTP routes and auth levels, a valid
NCRONTAB timer schedule defined as an app setting in Azure, the durable triggers behind every name
in ``shared/names.py``), and that importing the app does no I/O.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from croniter import croniter

from shared import names
from shared.settings import Settings
from tests.conftest import REPO_ROOT
from tests.infra.bicep import BicepFile
from tests.infra.conftest import INFRA
from tests.infra.test_security import app_settings

CONTROLS = ["reads_data", "connects", "writes", "resolves"]
# Routes reachable without a key. Each is a deliberate decision: add one here only after a review.
ANONYMOUS = {"health", "openapi.json"}
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    env.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH="")
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tests" / "infra" / "index_app.py"),
         *(f"tests.infra.import_controls.{c}" for c in CONTROLS)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def functions(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert report["error"] is None, report["error"]
    assert report["apps"] == 1, "the worker needs exactly one FunctionApp in function_app.py"
    found = {f["name"]: f for f in report["functions"]}
    assert len(found) == len(report["functions"]), "duplicate function names"
    return found


def trigger(function: dict[str, Any]) -> dict[str, Any]:
    triggers = [b for b in function["bindings"] if b["type"].endswith("Trigger")]
    assert len(triggers) == 1, f"{function['name']}: {len(triggers)} triggers"
    return triggers[0]


def test_importing_the_app_does_no_io(report: dict[str, Any]) -> None:
    app_violations = [v for v in report["violations"] if "import_controls" not in (v["module"] or "")]
    assert app_violations == []
    assert report["error"] is None


def test_the_audit_catches_io_at_import(report: dict[str, Any]) -> None:
    caught = {c: [v["event"] for v in report["violations"] if (v["module"] or "").endswith(f"/{c}.py")]
              for c in CONTROLS}
    assert caught["reads_data"] == ["module-level read of a data file"]
    assert caught["connects"] and caught["resolves"] and all(e.startswith("socket.") for e in caught["connects"])
    assert caught["writes"] and set(caught["writes"]) == {"open for writing"}
    assert all(report["controls"][f"tests.infra.import_controls.{c}"] for c in CONTROLS)  # each import failed


def test_every_function_loads_in_the_worker(functions: dict[str, dict[str, Any]]) -> None:
    for name, function in functions.items():
        assert NAME.match(name), name
        trigger(function)
        bound = {b["name"] for b in function["bindings"] if b["name"] != "$return"}
        params = set(function["params"]) - ({"context"} - bound)
        assert params == bound, f"{name}: parameters {params} vs bindings {bound}"
        for binding in function["bindings"]:
            assert binding["direction"] in ("IN", "OUT"), f"{name}: {binding}"
            if binding["name"] == "$return":
                assert binding["direction"] == "OUT"


def test_http_routes(functions: dict[str, dict[str, Any]]) -> None:
    http = {name: trigger(f) for name, f in functions.items() if trigger(f)["type"] == "httpTrigger"}
    assert trigger(functions[names.START_RUN]) == {
        "direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["POST"], "authLevel": "FUNCTION",
        "route": "runs"}
    seen: dict[tuple[str, str], str] = {}
    for name, binding in http.items():
        route = binding["route"]
        assert route and not route.startswith("/") and " " not in route, f"{name}: route {route!r}"
        assert binding["authLevel"] in ("FUNCTION", "ADMIN", "ANONYMOUS"), name
        if binding["authLevel"] == "ANONYMOUS":
            assert route in ANONYMOUS, f"{name}: /api/{route} is reachable without a key"
        returns = [b for b in functions[name]["bindings"] if b["name"] == "$return"]
        assert returns and returns[0]["type"] == "http", f"{name}: no HTTP response binding"
        for method in binding.get("methods") or ["*"]:
            key = (method.upper(), re.sub(r"\{[^}]+\}", "{}", route))
            assert key not in seen, f"{name} and {seen.get(key)} both serve {key}"
            seen[key] = name


def test_timer_schedule_is_valid_ncrontab_in_every_environment(functions: dict[str, dict[str, Any]]) -> None:
    binding = trigger(functions[names.DAILY_TIMER])
    assert binding["type"] == "timerTrigger" and binding.get("runOnStartup") is False
    schedule = binding["schedule"]
    setting = re.fullmatch(r"%(\w+)%", schedule)
    assert setting, "the schedule should be an app setting, so operators can change it without a deploy"
    name = setting[1]
    local = json.loads((REPO_ROOT / "local.settings.json").read_text())["Values"][name]
    default = Settings.model_fields[name.removeprefix("HARVEST_").lower()].default
    main = BicepFile.load(INFRA / "main.bicep")
    azure = main.params["schedule"].value
    assert name in app_settings({"main": main, "functionapp": BicepFile.load(INFRA / "modules/functionapp.bicep")})
    for value in (local, default, azure):
        assert len(value.split()) == 6, f"{value!r}: NCRONTAB has six fields, seconds first"
        assert croniter.is_valid(value, second_at_beginning=True), value
    assert croniter.is_valid("0 0 2 * * *", second_at_beginning=True)
    assert not croniter.is_valid("0 0 25 * * *", second_at_beginning=True)  # the check can fail


def test_durable_triggers(functions: dict[str, dict[str, Any]]) -> None:
    constants = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
    missing = constants - set(functions)
    assert not missing, f"shared/names.py names functions that are not registered: {sorted(missing)}"
    for name, function in functions.items():
        kind = trigger(function)["type"]
        if name.endswith("_orchestrator"):
            assert kind == "orchestrationTrigger" and function["is_generator"], name
            assert function["params"] == ["context"], name
        if kind == "orchestrationTrigger":
            assert len(function["bindings"]) == 1, f"{name}: orchestrators take no other bindings"
        if kind == "activityTrigger":
            assert not name.endswith("_orchestrator")
        clients = [b for b in function["bindings"] if b["type"] == "durableClient"]
        assert len(clients) <= 1 and all(b["direction"] == "IN" for b in clients), name
    kinds = {trigger(f)["type"] for f in functions.values()}
    assert {"httpTrigger", "timerTrigger", "orchestrationTrigger", "activityTrigger"} <= kinds
    assert any(b["type"] == "durableClient" for b in functions[names.START_RUN]["bindings"])
    assert any(b["type"] == "durableClient" for b in functions[names.DAILY_TIMER]["bindings"])
