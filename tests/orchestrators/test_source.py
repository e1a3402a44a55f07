"""The real source orchestrator on the local host, with scripted activities: pages across
``continue_as_new``, the commit-only shortcut, the high-water mark held back by transient failures,
permanent failures, and ``Retry-After`` honoured with a durable timer."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from devhost.host import LocalHost
from shared import names
from shared.errors import ClaimHeldError, PermanentError, TransientError
from shared.models import SourceResult

from .conftest import RunFn
from .stub_app import Script, plan, prepared


def pages(count: int, high_waters: list[str] | None = None) -> Any:
    """Discovery of ``count`` pages with one batch each; page N's cursor is ``cN``."""

    def discover(p: dict[str, Any]) -> dict[str, Any]:
        page = p["page"]
        assert p["cursor"] == (None if page == 0 else f"c{page}")
        return {"page": page, "batches": [f"p{page}"], "discovered": 2, "unchanged": 1, "done": page == count - 1,
                "next_cursor": f"c{page + 1}", "high_water": high_waters[page] if high_waters else None}

    return discover


def source_result(status: dict[str, Any], sid: str = "a") -> SourceResult:
    return SourceResult.model_validate(status["output"]["sources"][sid])


async def test_pages_continue_as_new_and_carry_state(host: LocalHost, script: Script, start_run: RunFn) -> None:
    marks = ["2026-06-03", "2026-06-09", "2026-06-01", "2026-06-05", "2026-06-02"]
    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a"], pages_per_execution=2),
                       names.DISCOVER: pages(5, marks)}
    status = await start_run()
    assert status["runtimeStatus"] == "Completed", status
    result = source_result(status)
    assert (result.status, result.pages, result.batches) == ("completed", 5, 5)
    # counts and timings survived two continue_as_new (pages 0-1, 2-3, 4)
    assert (result.counts.discovered, result.counts.unchanged, result.counts.added) == (10, 5, 5)
    assert [p["page"] for p in script.called(names.DISCOVER)] == [0, 1, 2, 3, 4]
    # after every page but the last, whose cursor finish_source clears with the claim
    assert [p["cursor"] for p in script.called(names.CHECKPOINT)] == ["c1", "c2", "c3", "c4"]
    assert len(script.called(names.BEGIN_SOURCE)) == 1  # claimed once, not again after continue_as_new
    (finish,) = script.called(names.FINISH_SOURCE)
    assert finish["high_water"] == "2026-06-09"  # the latest over every page, not the last page's
    child = await host.get_status(f"{status['instanceId']}:a")
    assert child is not None and child["input"]["page"] == 4 and child["input"]["result"]["pages"] == 4


async def test_unchanged_batch_is_only_committed(script: Script, start_run: RunFn) -> None:
    batches = {"changed": {"items": 2, "counts": {"updated": 1, "unchanged": 1}},
               "same": {"items": 2, "counts": {"unchanged": 2}},
               "empty": {"items": 0, "counts": {"failed": 1}}}
    script.handlers = {
        names.DISCOVER: lambda p: {"page": 0, "batches": list(batches), "discovered": 5},
        names.PREPARE: prepared(lambda p: batches[p["batch_id"]]),
    }
    status = await start_run()
    by_batch = {b: [n for n, p in script.calls if p.get("batch_id") == b] for b in batches}
    assert by_batch == {"changed": [names.PREPARE, names.EMBED, names.COMMIT],
                        "same": [names.PREPARE, names.COMMIT], "empty": [names.PREPARE]}
    assert source_result(status).counts.unchanged == 3


async def test_dry_run_never_commits_even_unchanged_batches(script: Script, start_run: RunFn) -> None:
    script.handlers = {names.PREPARE: prepared(lambda p: {"items": 1, "counts": {"unchanged": 1}})}
    status = await start_run(dry_run=True)
    assert source_result(status).status == "completed"
    assert names.COMMIT not in script.names() and names.CHECKPOINT not in script.names()
    assert script.called(names.PREPARE)[0]["dry_run"] is True


async def test_transient_failures_hold_the_high_water_mark_back(script: Script, start_run: RunFn) -> None:
    hints = {"p0": "2026-06-04", "p1": None, "p2": "2026-06-02"}
    script.handlers = {
        names.DISCOVER: pages(3, ["2026-06-05", "2026-06-08", "2026-06-07"]),
        names.PREPARE: prepared(lambda p: {"items": 1, "counts": {"added": 1, "failed": 1},
                                           "min_failed_hint": hints[p["batch_id"]],
                                           "errors": [{"stage": "fetch", "reason": "timeout", "transient": True}]}),
    }
    status = await start_run()
    assert source_result(status).status == "partial"
    assert script.called(names.FINISH_SOURCE)[0]["high_water"] == "2026-06-02"


async def test_permanent_failure_fails_the_source_at_once(script: Script, start_run: RunFn) -> None:
    def fetch(p: dict[str, Any]) -> dict[str, Any]:
        if p["source_id"] == "b":
            raise PermanentError("feed URL refused: private address")
        return {"items": 1, "counts": {"added": 1}}

    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a", "b"], failure_threshold=0.5),
                       names.PREPARE: prepared(fetch)}
    status = await start_run()
    assert status["runtimeStatus"] == "Completed"
    out = status["output"]
    assert (out["status"], out["sources"]["a"]["status"], out["sources"]["b"]["status"]) == (
        "partial", "completed", "failed")
    assert out["sources"]["b"]["message"] == "feed URL refused: private address"
    assert script.names("b").count(names.PREPARE) == 1  # not retried
    assert names.EMBED not in script.names("b")
    (finish,) = [p for p in script.called(names.FINISH_SOURCE) if p["result"]["source_id"] == "b"]
    assert finish["result"]["status"] == "failed"  # the claim is released, the high-water mark not moved
    assert out["errors"][0] == {"source_id": "b", "reason": "feed URL refused: private address", "stage": None,
                                "doc_id": None, "transient": False}


async def test_claim_held_by_another_run_is_permanent(script: Script, start_run: RunFn) -> None:
    def begin(p: dict[str, Any]) -> dict[str, Any]:
        raise ClaimHeldError("source 'a' is being processed by run other")

    script.handlers = {names.BEGIN_SOURCE: begin}
    status = await start_run()
    assert status["output"]["status"] == "failed"
    assert "being processed by run other" in status["output"]["sources"]["a"]["message"]
    assert script.names().count(names.BEGIN_SOURCE) == 1 and names.DISCOVER not in script.names()


async def test_retry_after_waits_on_a_durable_timer(host: LocalHost, script: Script, start_run: RunFn) -> None:
    def fetch(p: dict[str, Any]) -> dict[str, Any]:
        if len(script.called(names.PREPARE)) == 1:
            raise TransientError("HTTP 429 from the embedding service", retry_after=0.2)
        return {"items": 1, "counts": {"added": 1}}

    script.handlers = {names.PREPARE: prepared(fetch)}
    status = await start_run()
    assert source_result(status).status == "completed"
    assert len(script.called(names.PREPARE)) == 2
    client = df.DurableOrchestrationClient(host.client_binding_json())
    history = await client.get_status(f"{status['instanceId']}:a", show_history=True)
    assert [e["EventType"] for e in history.history].count("TimerFired") == 1


async def test_retry_after_is_bounded(script: Script, start_run: RunFn) -> None:
    def fetch(p: dict[str, Any]) -> dict[str, Any]:
        raise TransientError("HTTP 503", retry_after=0)

    script.handlers = {names.PREPARE: prepared(fetch)}
    status = await start_run()
    result = source_result(status)
    assert result.status == "failed" and "still asked to retry after 5 waits: HTTP 503" in (result.message or "")
    assert len(script.called(names.PREPARE)) == 6
