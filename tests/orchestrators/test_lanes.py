"""Lanes (``orchestrators.lanes``) on the strict local host, which fails any orchestration that yields a task the
Durable extension would not start at once: a run of more sources than run at once goes through source lanes
balanced by last run time, each source's batches through batch lanes, everything in flight that may be, and
the run's payloads stay bounded with hundreds of failing sources."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import defaultdict
from typing import Any

import pytest

from devhost.host import LocalHost
from orchestrators.lanes import shares
from shared import names
from shared.models import MAX_REASON

from .conftest import RunFn
from .stub_app import Script, plan, prepared


class Flight:
    """Batch activities in flight, per source and in all; sources in flight (claimed, not finished)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: dict[str, int] = defaultdict(int)
        self.batch_peak: dict[str, int] = defaultdict(int)
        self.sources = 0
        self.source_peak = 0
        self.arrived: dict[str, int] = defaultdict(int)

    def begin(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.sources += 1
            self.source_peak = max(self.source_peak, self.sources)
        return {"cursor": None, "since": None, "claimed": True}

    def finish(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.sources -= 1
        return {}

    async def prepare(self, p: dict[str, Any]) -> dict[str, Any]:
        sid = p["source_id"]
        with self.lock:
            self.batches[sid] += 1
            self.batch_peak[sid] = max(self.batch_peak[sid], self.batches[sid])
            self.arrived[sid] += 1
        try:
            for _ in range(200):  # the first three batches of a source wait for each other (bounded)
                if self.arrived[sid] >= 3:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)
            return prepared(lambda _: {"items": 1, "counts": {"added": 1}})(p)
        finally:
            with self.lock:
                self.batches[sid] -= 1


def pages_of(batches: int) -> Any:
    def discover(p: dict[str, Any]) -> dict[str, Any]:
        return {"page": p["page"], "batches": [f"p{p['page']}-b{k}" for k in range(batches)],
                "discovered": batches, "done": True}

    return discover


async def test_more_sources_than_run_at_once_go_through_source_lanes_and_batch_lanes(
        host: LocalHost, script: Script, start_run: RunFn) -> None:
    flight = Flight()
    sources = ["big", "s1", "s2", "s3", "s4"]
    weights = {"big": 40.0, "s1": 10.0, "s2": 10.0, "s3": 10.0, "s4": 10.0}
    script.handlers = {
        names.LOAD_SOURCES: lambda p: plan(sources, max_parallel_sources=2, max_parallel_batches=3, weights=weights),
        names.BEGIN_SOURCE: flight.begin, names.FINISH_SOURCE: flight.finish,
        names.DISCOVER: pages_of(4), names.PREPARE: flight.prepare,
    }
    status = await start_run()
    assert status["runtimeStatus"] == "Completed", status
    out = status["output"]["sources"]
    assert {sid: (r["status"], r["counts"]["added"], r["batches"], r["lanes"]) for sid, r in out.items()} == {
        sid: ("completed", 4, 4, 3) for sid in sources}
    assert flight.source_peak == 2  # two source lanes
    assert all(flight.batch_peak[sid] == 3 for sid in sources), dict(flight.batch_peak)  # three batch lanes each
    run_id = status["instanceId"]
    lanes = [await host.get_status(names.source_lane_id(run_id, i)) for i in range(2)]
    assert [[t["source_id"] for t in lane["input"]["tasks"]] for lane in lanes if lane] == [["big"], sources[1:]]
    assert status["customStatus"]["phase"] == "done"


def test_shares_are_round_robin_or_longest_first_to_the_least_loaded_lane() -> None:
    assert shares(list("abcdefg"), 3) == [["a", "d", "g"], ["b", "e"], ["c", "f"]]
    assert shares(["a"], 4) == [["a"]] and shares([], 4) == []
    assert shares(list("abcde"), 2, [1, 9, 5, 4, 1]) == [["a", "b"], ["c", "d", "e"]]  # 10 and 10
    assert shares(list("abcd"), 2, [3, 3, 3, 3]) == [["a", "c"], ["b", "d"]]  # ties: the lower lane first


async def test_payloads_stay_bounded_with_200_sources_of_20_errors_each(script: Script, start_run: RunFn) -> None:
    """The run-closing input and the run's output, with 200 sources that each report 20 failures with long
    reasons: each source keeps ``errors_kept`` (1 here) errors, reasons are cut at ``MAX_REASON``."""
    sources = [f"source-{i:03d}" for i in range(200)]
    errors = [{"stage": "fetch", "reason": "x" * 5000, "doc_id": f"https://example.org/{'d' * 3000}/{k}"}
              for k in range(20)]
    script.handlers = {
        names.LOAD_SOURCES: lambda p: plan(sources, max_parallel_sources=8),
        names.PREPARE: lambda p: {"fetch": {"items": 20, "counts": {"failed": 20}, "errors": errors}},
    }
    status = await start_run(timeout=180)  # 200 sources, ~1,400 activities
    assert status["runtimeStatus"] == "Completed", status
    closing = json.dumps(script.called(names.CLOSE_RUN)[0])
    output = json.dumps(status["output"])
    assert len(closing) < 256 * 1024 and len(output) < 256 * 1024, (len(closing), len(output))
    kept = [e for r in status["output"]["sources"].values() for e in r["errors"]]
    assert len(kept) == 200 and all(len(e["reason"]) <= MAX_REASON for e in kept)
    assert status["output"]["status"] == "failed"


@pytest.mark.parametrize("lanes", [1, 4])
async def test_a_cancelled_batch_lane_fails_its_source_not_the_run(host: LocalHost, script: Script,
                                                                   start_run: RunFn, lanes: int) -> None:
    """A lane that fails as an orchestration (here: terminated, as ``harvest cancel`` does) is the source's
    failure, with the framework's reason; the run still closes."""
    gate = asyncio.Event()

    async def prepare(p: dict[str, Any]) -> dict[str, Any]:
        if p["batch_id"] == "p0-b0":
            await asyncio.wait_for(gate.wait(), 20)
        return prepared(lambda _: {"items": 1, "counts": {"added": 1}})(p)

    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a"], max_parallel_batches=lanes),
                       names.DISCOVER: pages_of(4), names.PREPARE: prepare}
    task = asyncio.ensure_future(start_run())
    try:
        target = None
        for _ in range(500):
            runs = [c["run_id"] for c in (p["run"] for p in script.called(names.OPEN_RUN))]
            if runs:
                lane_or_source = (names.batch_lane_id(runs[-1], "a", 0, 0) if lanes > 1
                                  else names.source_instance_id(runs[-1], "a"))
                found = await host.get_status(lane_or_source)
                if found and found["runtimeStatus"] == "Running":
                    target = lane_or_source
                    break
            await asyncio.sleep(0.02)
        assert target is not None
        assert await host.engine.send(target, {"type": "terminate", "reason": "stopped by the test"}) == 202
    finally:
        gate.set()
    status = await task
    result = status["output"]["sources"]["a"]
    assert status["runtimeStatus"] == "Completed" and result["status"] == "failed"
    assert "stopped by the test" in (result["message"] or "")
