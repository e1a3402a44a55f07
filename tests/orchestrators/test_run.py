"""The real run orchestrator on the local host, with scripted activities: the partial/failed thresholds,
and a run that cannot go on (planning, opening, indexing or closing fails) still closed ``failed``,
reported and notified."""

from __future__ import annotations

from typing import Any

import pytest

from shared import names
from shared.errors import ConfigError, PermanentError
from shared.models import RunSummary

from .conftest import RunFn
from .stub_app import Script, plan, prepared


def failing(*sources: str) -> Any:
    def fetch(p: dict[str, Any]) -> dict[str, Any]:
        if p["source_id"] in sources:
            raise PermanentError(f"{p['source_id']} is broken")
        return {"items": 1, "counts": {"added": 1}}

    return fetch


@pytest.mark.parametrize(("broken", "threshold", "expected"), [
    ((), 0.5, "completed"),
    (("c",), 0.5, "partial"),  # 1 of 3 failed: under the threshold
    (("b", "c"), 0.5, "failed"),  # 2 of 3: past it
    (("b", "c"), 0.7, "partial"),
    (("a", "b", "c"), 1.0, "failed"),  # all failed is failed whatever the threshold
])
async def test_run_status_thresholds(script: Script, start_run: RunFn, broken: tuple[str, ...], threshold: float,
                                     expected: str) -> None:
    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a", "b", "c"], failure_threshold=threshold),
                       names.PREPARE: prepared(failing(*broken))}
    status = await start_run()
    summary = RunSummary.model_validate(status["output"])
    assert summary.status == expected
    assert {sid for sid, r in summary.sources.items() if r.status == "failed"} == set(broken)
    (closed,) = script.called(names.CLOSE_RUN)
    assert closed["summary"]["status"] == expected and closed["summary"]["status_url"].startswith("http://status/")
    assert summary.totals.added == 3 - len(broken)


def refuse(reason: str) -> Any:
    def handler(p: dict[str, Any]) -> Any:
        raise ConfigError(reason)

    return handler


@pytest.mark.parametrize("step", [names.LOAD_SOURCES, names.OPEN_RUN])
async def test_run_that_cannot_start_is_closed_failed_reported_and_notified(
        script: Script, start_run: RunFn, step: str) -> None:
    script.handlers = {step: refuse("HARVEST_MANIFEST: sources.yaml is not valid YAML")}
    status = await start_run(trigger="timer")
    assert status["runtimeStatus"] == "Completed"
    out = status["output"]
    assert out["status"] == "failed"
    assert out["message"] == f"{step}: HARVEST_MANIFEST: sources.yaml is not valid YAML"
    (closed,) = script.called(names.CLOSE_RUN)
    assert closed["summary"]["status"] == "failed" and closed["summary"]["message"] == out["message"]
    assert len(script.called(names.PUBLISH_RUN)) == len(script.called(names.NOTIFY_RUN)) == 1
    assert len(script.called(names.APPLY_RETENTION)) == 1  # the daily run still applies retention
    assert out["report"] and [(n["channel"], n["ok"]) for n in out["notifications"]] == [("webhook", True)]
    assert names.SOURCE_ORCHESTRATOR not in script.names() and names.BEGIN_SOURCE not in script.names()
    assert len(script.called(step)) == 1  # a permanent failure is not retried


async def test_run_whose_close_fails_is_closed_again_failed(script: Script, start_run: RunFn) -> None:
    def close(p: dict[str, Any]) -> dict[str, Any]:
        if p["summary"]["status"] != "failed":
            raise PermanentError("summary rejected")
        return p["summary"]

    script.handlers = {names.CLOSE_RUN: close}
    status = await start_run()
    out = status["output"]
    assert out["status"] == "failed" and out["message"] == "could not close the run: close_run: summary rejected"
    assert [p["summary"]["status"] for p in script.called(names.CLOSE_RUN)] == ["completed", "failed"]
    assert out["sources"]["a"]["status"] == "completed"  # what the sources did is kept
    assert len(script.called(names.NOTIFY_RUN)) == 1


async def test_failed_notification_never_changes_the_result(script: Script, start_run: RunFn) -> None:
    script.handlers = {names.NOTIFY_RUN: refuse("webhook URL invalid")}
    status = await start_run()
    assert status["output"]["status"] == "completed" and status["output"]["notifications"] == []


async def test_compaction_reports_each_source(host: Any, script: Script) -> None:
    import azure.durable_functions as df

    def compact(p: dict[str, Any]) -> dict[str, Any]:
        if p["source_id"] == "bad":
            raise PermanentError("records unreadable")
        return {"source_id": p["source_id"], "versions_removed": p["keep"]}

    script.handlers = {names.COMPACT_SOURCE: compact}
    client = df.DurableOrchestrationClient(host.client_binding_json())
    iid = await client.start_new(names.COMPACT_ORCHESTRATOR, None, {"keep": 2, "sources": ["x", "bad"]})
    status = await host.wait_for(iid, 30)
    x = {"source_id": "x", "documents": 0, "versions_removed": 2, "blobs_deleted": 0, "seconds": 0.0, "pages": 1}
    assert status["output"] == {"keep": 2, "sources": {"x": x, "bad": {"error": "records unreadable"}}}


async def test_compaction_pages_through_each_source_and_continues_as_new(
        host: Any, script: Script, monkeypatch: Any) -> None:
    """One bounded activity per page of a source's records, the next from the previous one's continuation
    token; after ``PAGES_PER_EXECUTION`` pages a compaction lane continues as new with its sources' progress."""
    import azure.durable_functions as df

    from orchestrators import compact

    monkeypatch.setattr(compact, "PAGES_PER_EXECUTION", 2)
    tokens = {"x": [None, "x1", "x2", "x3", "x4"], "y": [None]}

    def page(p: dict[str, Any]) -> dict[str, Any]:
        chain = tokens[p["source_id"]]
        at = chain.index(p["continuation"])
        following = chain[at + 1] if at + 1 < len(chain) else None
        return {"source_id": p["source_id"], "documents": 3, "versions_removed": 1, "continuation": following}

    script.handlers = {names.COMPACT_SOURCE: page}
    client = df.DurableOrchestrationClient(host.client_binding_json())
    iid = await client.start_new(names.COMPACT_ORCHESTRATOR, None, {"keep": 1, "sources": ["x", "y"]})
    status = await host.wait_for(iid, 30)
    out = status["output"]["sources"]
    assert (out["x"]["pages"], out["x"]["documents"], out["x"]["versions_removed"]) == (5, 15, 5)
    assert (out["y"]["pages"], out["y"]["documents"]) == (1, 3)
    assert [p["continuation"] for p in script.called(names.COMPACT_SOURCE) if p["source_id"] == "x"] == \
        [None, "x1", "x2", "x3", "x4"]
    lane = await host.get_status(names.compact_lane_id(iid, 0))  # x's lane continued as new twice
    assert lane["input"]["sources"] == ["x"] and lane["input"]["progress"]["x"]["pages"] == 4
