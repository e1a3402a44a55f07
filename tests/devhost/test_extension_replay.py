"""The local host replays an orchestrator's actions as the Durable extension does (``devhost.shim``): in
order, each awaited before the next is invoked. The control cases: a sliding ``task_any`` window runs one
task at a time after its first wave (in Azure as here), lanes of sub-orchestrations run in parallel, and a
retry inside such a window misroutes results exactly as azure-functions-durable-python#603 describes."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from devhost.host import LocalHost

from ..conftest import running_host
from . import sample_app

SECONDS = [0.3, 0.6, 0.9, 0.6, 0.6, 0.6]  # t0..t5; a window of 3
EPSILON = 0.02  # timestamps of two activities that follow each other (same clock, same process)


@pytest_asyncio.fixture(scope="module")
async def faithful(azurite: str) -> AsyncIterator[LocalHost]:
    """A host that applies the extension's rules and only logs what it finds ("warn", as ``harvest serve``)."""
    async with running_host(sample_app.create_app(), azurite, max_concurrent_activities=8,
                            durable_checks="warn") as local:
        yield local


def intervals(directory: Path) -> dict[str, tuple[float, float]]:
    rows = [json.loads(line) for line in (directory / "timed.log").read_text().splitlines()]
    return {row["key"]: (row["start"], row["end"]) for row in rows}


def max_overlap(spans: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in spans] + [(e - EPSILON, -1) for _, e in spans], key=lambda p: (p[0], p[1]))
    best = now = 0
    for _, step in points:
        now += step
        best = max(best, now)
    return best


async def run(host: LocalHost, name: str, payload: Any, timeout: float = 30) -> dict[str, Any]:
    iid = await host.engine.start_instance(name, json.dumps(payload))
    return await host.wait_for(iid, timeout)


async def test_a_sliding_task_any_window_runs_serially_after_its_first_wave(faithful: LocalHost,
                                                                             tmp_path: Path) -> None:
    status = await run(faithful, "sliding_window", {"dir": str(tmp_path), "seconds": SECONDS, "window": 3})
    assert status["runtimeStatus"] == "Completed", status
    spans = intervals(tmp_path)
    assert max_overlap([spans[k] for k in ("t0", "t1", "t2")]) == 3  # the first WhenAny starts all three
    later = sorted(spans[k] for k in ("t3", "t4", "t5"))
    assert max_overlap(later) == 1, later  # then the extension awaits each new task alone
    assert all(nxt[0] >= prev[1] - EPSILON for prev, nxt in itertools.pairwise(later))


async def test_lanes_of_sub_orchestrations_run_in_parallel(host: LocalHost, tmp_path: Path) -> None:
    """The same work in fixed lanes, on the strict host: nothing is deferred, three run at once."""
    status = await run(host, "lanes", {"dir": str(tmp_path), "seconds": SECONDS, "window": 3})
    assert status["runtimeStatus"] == "Completed", status
    assert sorted(status["output"]) == [f"t{i}" for i in range(6)]
    spans = intervals(tmp_path)
    assert max_overlap([spans[k] for k in ("t1", "t2", "t3")]) == 3  # lane 0's second task beside lanes 1 and 2


async def test_the_strict_host_fails_a_window_naming_the_orchestrator(host: LocalHost, tmp_path: Path) -> None:
    status = await run(host, "sliding_window", {"dir": str(tmp_path), "seconds": SECONDS, "window": 3})
    assert status["runtimeStatus"] == "Failed"
    assert "devhost: orchestrator 'sliding_window' yielded tasks the Durable extension has not started" in (
        status["output"])
    assert "still awaiting WhenAny[CallActivity 'timed']" in status["output"]


async def test_the_lenient_host_logs_the_finding_once(faithful: LocalHost, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="harvest.devhost"):
        status = await run(faithful, "sliding_window", {"dir": str(tmp_path), "seconds": [0.1] * 6, "window": 3})
    assert status["runtimeStatus"] == "Completed"
    found = [r.getMessage() for r in caplog.records if "'sliding_window' yielded tasks" in r.getMessage()]
    assert len(found) == 1 and f"[instance {status['instanceId']}]" in found[0]


async def test_a_retry_in_a_window_misroutes_results_as_in_azure(faithful: LocalHost, tmp_path: Path) -> None:
    """x0, x1 and a retried ``a`` start together; c follows x0, d follows x1. The SDK numbers d 4 when it is
    yielded, but the extension, still awaiting c, gives 4 to a's retry timer: d 'completes' when that timer
    fires (None), a's second attempt completes the SDK's retry timer, and d's real result, once c is done,
    lands on a. A host that started d at once would return ['x0', 'x1', 'd', 'ok after 2', 'c']."""
    cfg = {"dir": str(tmp_path), "key": uuid.uuid4().hex, "x0": 0.2, "x1": 0.5, "a": 0.8, "retry_ms": 200,
           "c": 2.6, "d": 0.2}
    status = await run(faithful, "retry_window", cfg)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == ["x0", "x1", None, "c", "d"]
    assert (tmp_path / f"{cfg['key']}.attempts").read_text() == "2"


async def test_the_context_carries_the_extensions_fields(host: LocalHost) -> None:
    status = await run(host, "context_fields", None)
    assert status["output"] == {"schema": 2, "max_short_timer_s": 6 * 86400.0, "long_timer_interval_s": 3 * 86400.0}


async def test_a_terminated_sub_orchestration_fails_its_parent_with_the_reason_as_given(host: LocalHost) -> None:
    iid = await host.engine.start_instance("parent_of_waiter", None)
    child = f"{iid}:child"
    for _ in range(500):
        state = await host.get_status(child)
        if state and state["runtimeStatus"] == "Running":
            break
        await asyncio.sleep(0.02)
    assert await host.engine.send(child, {"type": "terminate", "reason": "operator said stop"}) == 202
    status = await host.wait_for(iid, 10)
    assert status["output"] == {"error": "operator said stop \n None"}


async def test_an_event_ends_the_round_that_waits_for_it(host: LocalHost) -> None:
    """A poll-or-event loop on the strict host: round 1's poll wins, 'go' arrives in round 2 and must end
    round 2 (the newest wait of that name, as the extension's stack and the SDK's list both pick), and the
    activity after the loop starts at once, not behind round 2's poll."""
    iid = await host.engine.start_instance("poll_or_event", json.dumps({"poll_s": [0.05, 1.0]}))
    for _ in range(500):
        state = await host.get_status(iid)
        if state and (state.get("customStatus") or {}).get("round") == 2:
            break
        await asyncio.sleep(0.02)
    assert await host.engine.raise_event(iid, "go", json.dumps("now")) == 202
    status = await host.wait_for(iid, 20)
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == {"rounds": 2, "go": "now", "after": "after"}


async def test_a_call_to_an_unknown_activity_is_refused_not_failed(host: LocalHost) -> None:
    """The extension refuses to schedule it (``ThrowIfFunctionDoesNotExist`` in ``CallDurableTaskFunctionAsync``)
    and the shim swallows the fault: in Azure the orchestrator never hears back and the instance stays Running.
    The strict host fails it naming the call; it used to deliver a TaskFailed the orchestrator could catch."""
    status = await run(host, "calls_unknown", None, timeout=10)
    assert status["runtimeStatus"] == "Failed", status["output"]
    assert ("devhost: orchestrator 'calls_unknown' makes a call the Durable extension refuses: CallActivity "
            "'no_such_activity': The function 'no_such_activity' doesn't exist") in status["output"]


async def test_the_lenient_host_leaves_a_refused_call_waiting_as_azure_does(faithful: LocalHost,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="harvest.devhost"):
        iid = await faithful.engine.start_instance("calls_unknown", None)
        for _ in range(500):
            if any("makes a call the Durable extension refuses" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
    found = [r.getMessage() for r in caplog.records if "refuses" in r.getMessage()]
    assert len(found) == 1 and f"[instance {iid}]" in found[0]
    status = await faithful.get_status(iid)
    assert status is not None and status["runtimeStatus"] == "Running"
    assert await faithful.engine.send(iid, {"type": "terminate", "reason": "test done"}) == 202
    assert (await faithful.wait_for(iid, 10))["runtimeStatus"] == "Terminated"


async def test_function_names_are_matched_ignoring_case(host: LocalHost) -> None:
    """``FunctionName`` compares ignoring case: 'DOUBLE' runs ``double`` and 'Fan_Out' runs ``fan_out`` in Azure
    (``DurableTaskExtension`` looks both up in ``knownActivities``/``knownOrchestrators`` by ``FunctionName``)."""
    status = await run(host, "calls_by_name", {"activity": "DOUBLE", "orchestrator": "Fan_Out"}, timeout=15)
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == [42, 6]


async def test_an_event_raised_while_continue_as_new_waits_reaches_the_next_execution(host: LocalHost) -> None:
    """The orchestrator continues as new while its slow task still runs, so the execution waits for it
    (``!HasOpenTasks``); an event raised meanwhile is carried to the next execution, which gets it."""
    iid = await host.engine.start_instance("carry_over", json.dumps({"slow_s": 1.0}))
    for _ in range(500):
        state = await host.get_status(iid)
        if state and state.get("customStatus") == "continuing":
            break
        await asyncio.sleep(0.02)
    assert state is not None and state["customStatus"] == "continuing" and state["runtimeStatus"] == "Running"
    assert await host.engine.raise_event(iid, "go", json.dumps("carried")) == 202
    status = await host.wait_for(iid, 10)
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == "carried"


async def test_an_unnamed_sub_orchestration_after_continue_as_new_is_named_by_a_guid_execution_id(
        host: LocalHost) -> None:
    """``CreateSubOrchestrationInstanceCore`` names it ``{ExecutionId}:{task id}``, and a continued execution's
    ExecutionId is ``Guid.NewGuid().ToString("N")`` (``TaskOrchestrationDispatcher``), as the first one's is."""
    status = await run(host, "unnamed_child_next_execution", None, timeout=10)
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert re.fullmatch(r"[0-9a-f]{32}:0", status["output"]), status["output"]


async def test_yielding_old_tasks_again_is_not_a_finding(host: LocalHost) -> None:
    """Re-yielding a finished task, or a task_all over tasks yielded before (one still running), adds no action:
    the strict host's checks stay quiet and the orchestration completes."""
    status = await run(host, "old_tasks_again", None, timeout=10)
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == [2, 2, [2, "b"], [2, "b"]]
