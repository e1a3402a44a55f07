"""Parallel batches within a source (``HARVEST_MAX_PARALLEL_BATCHES``), on the local host with scripted
activities: the batches of a page overlap, the checkpoint is written once per page after every commit of
that page, continue-as-new still carries the state, a failing batch lets the others finish and moves no
checkpoint, a Durable retry inside the window is replayed correctly, and a bounded embed is called again
while it says the batch has chunks left."""

from __future__ import annotations

import asyncio
from typing import Any

from devhost.host import LocalHost
from shared import names
from shared.errors import PermanentError, TransientError
from shared.models import SourceResult

from .conftest import RunFn
from .stub_app import Script, plan, prepared


class Tracker:
    """Records activity starts and ends, and how many batch activities were in flight at most."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []  # (start|end, activity, batch id)
        self.in_flight = 0
        self.peak = 0
        self.started: dict[int, int] = {}  # page -> fetches started

    def wrap(self, name: str, body: Any, *, barrier: int = 0) -> Any:
        async def handler(p: dict[str, Any]) -> Any:
            batch = p.get("batch_id") or f"page{p.get('page', '')}"
            self.events.append(("start", name, batch))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                if barrier:  # the page's first fetches wait for each other: only overlapping batches pass
                    page = int(batch.split("-")[0][1:])
                    self.started[page] = self.started.get(page, 0) + 1
                    for _ in range(400):
                        if self.started[page] >= barrier:
                            break
                        await asyncio.sleep(0.025)
                    else:
                        raise PermanentError(f"{batch}: the page's batches did not run at the same time")
                await asyncio.sleep(0.01)
                return body(p)
            finally:
                self.in_flight -= 1
                self.events.append(("end", name, batch))

        return handler


def paged(batches_per_page: int, pages: int) -> Any:
    def discover(p: dict[str, Any]) -> dict[str, Any]:
        page = p["page"]
        return {"page": page, "batches": [f"p{page}-b{k}" for k in range(batches_per_page)],
                "discovered": batches_per_page, "done": page == pages - 1, "next_cursor": f"c{page + 1}",
                "high_water": f"2026-06-0{page + 1}"}

    return discover


def result_of(status: dict[str, Any]) -> SourceResult:
    return SourceResult.model_validate(status["output"]["sources"]["a"])


async def test_batches_of_a_page_overlap_and_the_checkpoint_follows_every_commit(
        script: Script, start_run: RunFn) -> None:
    track = Tracker()
    script.handlers = {
        names.LOAD_SOURCES: lambda p: plan(["a"], max_parallel_batches=3),
        names.DISCOVER: paged(5, 2),
        names.PREPARE: track.wrap(names.PREPARE, prepared(lambda p: {"items": 1, "counts": {"added": 1}}), barrier=3),
        names.EMBED: track.wrap(names.EMBED, lambda p: {"items": 1, "counts": {"chunks_embedded": 1}}),
        names.COMMIT: track.wrap(names.COMMIT, lambda p: {"items": 1}),
        names.CHECKPOINT: track.wrap(names.CHECKPOINT, lambda p: {}),
    }
    status = await start_run()
    result = result_of(status)
    assert (result.status, result.pages, result.batches, result.counts.added) == ("completed", 2, 10, 10)
    assert track.peak == 3  # three batches in flight at once, never more
    ev = track.events
    checkpoints = [i for i, e in enumerate(ev) if e[:2] == ("start", names.CHECKPOINT)]
    assert len(checkpoints) == 1  # once per page but the last (finish_source clears the cursor)
    for page, at in enumerate(checkpoints):
        commits = [i for i, e in enumerate(ev) if e[:2] == ("end", names.COMMIT) and e[2].startswith(f"p{page}-")]
        assert len(commits) == 5 and max(commits) < at  # after every commit of its page
        later = [i for i, e in enumerate(ev) if e[0] == "start" and e[2].startswith(f"p{page + 1}-")]
        assert all(i > at for i in later)  # the next page's batches start after it
    assert [p["cursor"] for p in script.called(names.CHECKPOINT)] == ["c1"]
    assert {p["share"] for p in script.called(names.PREPARE)} == {3}  # the source's limits split three ways


async def test_continue_as_new_carries_state_with_parallel_batches(host: LocalHost, script: Script,
                                                                   start_run: RunFn) -> None:
    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a"], max_parallel_batches=4, pages_per_execution=1),
                       names.DISCOVER: paged(3, 3)}
    status = await start_run()
    result = result_of(status)
    assert (result.pages, result.batches, result.counts.added, result.counts.chunks_embedded) == (3, 9, 9, 9)
    assert len(script.called(names.BEGIN_SOURCE)) == 1
    assert script.called(names.FINISH_SOURCE)[0]["high_water"] == "2026-06-03"
    child = await host.get_status(f"{status['instanceId']}:a")
    assert child is not None and child["input"]["max_parallel_batches"] == 4 and child["input"]["page"] == 2


async def test_a_failing_batch_lets_the_others_finish_and_moves_no_checkpoint(script: Script,
                                                                             start_run: RunFn) -> None:
    def prepare(p: dict[str, Any]) -> dict[str, Any]:
        if p["batch_id"] == "p0-b0":
            raise PermanentError("chunk refused: staged schema")
        return {"fetch": {"items": 1, "counts": {"added": 1}}, "chunk": {"items": 1}}

    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a"], max_parallel_batches=2),
                       names.DISCOVER: paged(4, 1), names.PREPARE: prepare}
    status = await start_run()
    result = result_of(status)
    assert result.status == "failed" and result.message == "chunk refused: staged schema"
    assert names.CHECKPOINT not in script.names()
    fetched = {p["batch_id"] for p in script.called(names.PREPARE)}
    committed = {p["batch_id"] for p in script.called(names.COMMIT)}
    assert "p0-b1" in fetched and fetched - committed == {"p0-b0"}  # every other started batch committed
    assert len(fetched) < 4 or committed == fetched - {"p0-b0"}


async def test_a_durable_retry_inside_the_window(script: Script, start_run: RunFn) -> None:
    tries: dict[str, int] = {}

    def fetch(p: dict[str, Any]) -> dict[str, Any]:
        tries[p["batch_id"]] = tries.get(p["batch_id"], 0) + 1
        if p["batch_id"] == "p0-b1" and tries["p0-b1"] == 1:
            raise TransientError("connection reset")  # no Retry-After: the Durable retry policy retries it
        return {"items": 1, "counts": {"added": 1}}

    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a"], max_parallel_batches=3),
                       names.DISCOVER: paged(3, 1), names.PREPARE: prepared(fetch)}
    status = await start_run()
    result = result_of(status)
    assert (result.status, result.counts.added) == ("completed", 3)
    assert tries == {"p0-b0": 1, "p0-b1": 2, "p0-b2": 1}
    assert sorted(p["batch_id"] for p in script.called(names.COMMIT)) == ["p0-b0", "p0-b1", "p0-b2"]


async def test_a_bounded_embed_is_called_until_the_batch_is_done(script: Script, start_run: RunFn) -> None:
    calls: dict[str, int] = {}

    def embed(p: dict[str, Any]) -> dict[str, Any]:
        calls[p["batch_id"]] = calls.get(p["batch_id"], 0) + 1
        left = calls[p["batch_id"]] < 3 and p["batch_id"] == "p0-b0"
        return {"items": 1, "counts": {"chunks_embedded": 2}, "more": left}

    script.handlers = {names.LOAD_SOURCES: lambda p: plan(["a"], max_parallel_batches=2),
                       names.DISCOVER: paged(2, 1), names.EMBED: embed}
    status = await start_run()
    assert calls == {"p0-b0": 3, "p0-b1": 1}
    assert result_of(status).counts.chunks_embedded == 8
    order = [n for n, p in script.calls if p.get("batch_id") == "p0-b0"]
    assert order == [names.PREPARE, names.EMBED, names.EMBED, names.EMBED, names.COMMIT]
