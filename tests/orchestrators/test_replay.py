"""The orchestrators' decisions, replayed in memory through the Durable SDK (``tests.orchestrators.replay``):
which actions each one yields, in what groups and with which instance ids, for the histories that matter —
fast and without a host. The devhost tests beside this file run the same orchestrators end to end."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrators.batches import batch_lane
from orchestrators.run import run_orchestrator
from orchestrators.source import source_orchestrator
from orchestrators.sources import source_lane
from shared import names
from shared.models import (
    BatchLaneTask,
    BatchRef,
    DiscoverResult,
    LaneOutcome,
    PrepareResult,
    PublishResult,
    RunInput,
    RunOptions,
    RunPlan,
    RunSummary,
    SourceCounts,
    SourceLaneResult,
    SourceLaneTask,
    SourceResult,
    SourceStart,
    SourceTask,
    StageResult,
)
from tests.orchestrators.replay import T0, Action, Replay, crashed, names_of, ok, refused

RUN = "run-1"
SOURCE = "docs"
ADDED = StageResult(items=1, counts=SourceCounts(added=1))


def source(**fields: Any) -> Replay:
    task = SourceTask(run_id=RUN, source_id=SOURCE, **fields)
    return Replay(source_orchestrator, task, instance_id=names.source_instance_id(RUN, SOURCE), parent=RUN)


def page(number: int, batches: int, *, done: bool = True, sizes: list[int] | None = None) -> DiscoverResult:
    return DiscoverResult(page=number, batches=[f"p{number}-b{i}" for i in range(batches)], discovered=batches,
                          sizes=sizes or [], done=done, next_cursor=None if done else f"after-{number}")


def begin(r: Replay) -> None:
    """The source is claimed, and asks for its first page."""
    assert names_of(r.next()) == [("activity", names.BEGIN_SOURCE)]
    assert names_of(r.step(ok(SourceStart(claimed=True)))) == [("activity", names.DISCOVER)]


def one_batch(r: Replay, found: list[Action]) -> list[Action]:
    """A batch in this history: prepare → embed → commit; returns what comes after it."""
    assert names_of(found) == [("activity", names.PREPARE)]
    assert names_of(r.step(ok(PrepareResult(fetch=ADDED, chunk=StageResult(items=1))))) == [
        ("activity", names.EMBED)]
    assert names_of(r.step(ok(StageResult(items=1)))) == [("activity", names.COMMIT)]
    return r.step(ok(StageResult(items=1)))


def finish(r: Replay, after_batches: list[Action]) -> dict[str, Any]:
    """Publish the source's index, release the source; the result it hands to finish_source and returns."""
    assert names_of(after_batches) == [("activity", names.PUBLISH_INDEX)]
    released = r.step(ok(PublishResult()))
    assert names_of(released) == [("activity", names.FINISH_SOURCE)]
    assert r.step(ok()) == [] and r.done
    assert r.output == released[0].input["result"]
    return dict(r.output)


@pytest.mark.parametrize(("batches", "lanes"), [(2, 2), (3, 2), (2, 4), (5, 4), (8, 3)])
def test_a_page_of_n_batches_is_one_task_all_of_min_n_lanes_batch_lanes(batches: int, lanes: int) -> None:
    r = source(max_parallel_batches=lanes)
    begin(r)
    started = r.step(ok(page(0, batches)))
    k = min(batches, lanes)
    assert names_of(started) == [("sub", names.BATCH_LANE)] * k  # one yield: all the lanes start together
    assert [a.instance_id for a in started] == [names.batch_lane_id(RUN, SOURCE, 0, i) for i in range(k)]
    shares = [[ref["batch_id"] for ref in a.input["refs"]] for a in started]
    assert sorted(b for share in shares for b in share) == sorted(f"p0-b{i}" for i in range(batches))
    assert all(share == sorted(share, key=lambda b: int(b.rsplit("b", 1)[1])) for share in shares)  # page order
    assert r.custom_status["lanes"] == [a.instance_id for a in started]


def test_batch_lanes_are_balanced_by_the_documents_in_each_batch() -> None:
    r = source(max_parallel_batches=2)
    begin(r)
    started = r.step(ok(page(0, 4, sizes=[30, 10, 10, 10])))
    assert [[ref["batch_id"] for ref in a.input["refs"]] for a in started] == [["p0-b0"], ["p0-b1", "p0-b2", "p0-b3"]]


@pytest.mark.parametrize(("batches", "lanes"), [(1, 4), (3, 1)])
def test_with_one_lane_the_batches_run_in_the_sources_own_history(batches: int, lanes: int) -> None:
    r = source(max_parallel_batches=lanes)
    begin(r)
    after = r.step(ok(page(0, batches)))
    for i in range(batches):
        assert after[0].input["batch_id"] == f"p0-b{i}"  # one batch at a time, in page order
        after = one_batch(r, after)
    result = finish(r, after)
    assert result["status"] == "completed" and result["counts"]["added"] == batches and result["lanes"] == 0


@pytest.mark.parametrize("how", ["lane reports its failure", "lane orchestration failed"])
def test_a_failed_lane_fails_the_source_once_every_lane_has_ended(how: str) -> None:
    r = source(max_parallel_batches=2)
    begin(r)
    started = r.step(ok(page(0, 4)))
    assert len(started) == 2
    good = LaneOutcome(result=SourceResult(source_id=SOURCE, counts=SourceCounts(added=2)))
    bad = (ok(LaneOutcome(result=SourceResult(source_id=SOURCE), failure="prepare: HTTP 410 Gone"))
           if how == "lane reports its failure" else crashed("lane terminated by an operator"))
    after = r.step(bad, ok(good))  # the failure first: the source waits on the other lane without a new action
    result = finish(r, after)  # still published and released, never a checkpoint after a failed page
    assert all(name != names.CHECKPOINT for step in r.steps for _, name in names_of(step))
    assert result["status"] == "failed" and result["counts"]["added"] == 2
    assert ("HTTP 410 Gone" if how == "lane reports its failure" else "lane terminated") in result["message"]


def test_every_page_but_the_last_moves_the_checkpoint() -> None:
    r = source()
    begin(r)
    after = one_batch(r, r.step(ok(page(0, 1, done=False))))
    assert names_of(after) == [("activity", names.CHECKPOINT)] and after[0].input["cursor"] == "after-0"
    discover = r.step(ok())
    assert names_of(discover) == [("activity", names.DISCOVER)]
    assert (discover[0].input["page"], discover[0].input["cursor"]) == (1, "after-0")
    after = one_batch(r, r.step(ok(page(1, 1, done=True))))
    assert names_of(after) == [("activity", names.PUBLISH_INDEX)]  # the last page: finish_source clears the cursor
    assert finish(r, after)["status"] == "completed"


def test_a_dry_run_moves_no_checkpoint_and_stops_each_batch_after_fetching() -> None:
    r = source(options=RunOptions(dry_run=True))
    begin(r)
    prepare = r.step(ok(page(0, 1, done=False)))
    assert names_of(prepare) == [("activity", names.PREPARE)]
    after = r.step(ok(PrepareResult(fetch=ADDED)))
    assert names_of(after) == [("activity", names.DISCOVER)]  # no embed, no commit, no checkpoint


def test_after_pages_per_execution_pages_the_source_continues_as_new_with_its_cursor() -> None:
    r = source(pages_per_execution=2)
    begin(r)
    for number in range(2):
        after = one_batch(r, r.step(ok(page(number, 1, done=False))))
        assert names_of(after) == [("activity", names.CHECKPOINT)]
        after = r.step(ok())
    assert names_of(after) == [("continue_as_new", None)] and r.done
    carried = SourceTask.model_validate(after[0].input)
    assert (carried.page, carried.cursor, carried.started) == (2, "after-1", True)
    assert carried.result is not None and (carried.result.counts.added, carried.result.pages) == (2, 2)  # carried over

    again = Replay(source_orchestrator, carried, instance_id=r.instance_id, parent=RUN)
    first = again.next()  # the next execution: not claimed again, straight to its page
    assert names_of(first) == [("activity", names.DISCOVER)]
    assert (first[0].input["page"], first[0].input["cursor"]) == (2, "after-1")
    result = finish(again, one_batch(again, again.step(ok(page(2, 1)))))
    assert result["counts"]["added"] == 3 and result["counts"]["discovered"] == 3


def test_a_refused_claim_fails_the_source_without_discovering() -> None:
    r = source()
    assert names_of(r.next()) == [("activity", names.BEGIN_SOURCE)]
    result = finish(r, r.step(refused("another run holds source docs")))
    assert result["status"] == "failed" and "another run holds source docs" in result["message"]


def lane_of(*batches: str) -> Replay:
    refs = [BatchRef(run_id=RUN, source_id=SOURCE, batch_id=b) for b in batches]
    task = BatchLaneTask(run_id=RUN, source_id=SOURCE, page=0, lane=1, refs=refs)
    return Replay(batch_lane, task, instance_id=names.batch_lane_id(RUN, SOURCE, 0, 1), parent=RUN)


def test_a_batch_lane_embeds_until_done_and_stops_at_the_first_refused_batch() -> None:
    r = lane_of("b0", "b2", "b4")
    assert [(a.name, a.input["batch_id"]) for a in r.next()] == [(names.PREPARE, "b0")]
    assert names_of(r.step(ok(PrepareResult(fetch=ADDED, chunk=StageResult(items=3))))) == [("activity", names.EMBED)]
    assert names_of(r.step(ok(StageResult(items=2, more=True)))) == [("activity", names.EMBED)]  # chunks left
    assert names_of(r.step(ok(StageResult(items=1)))) == [("activity", names.COMMIT)]
    assert [(a.name, a.input["batch_id"]) for a in r.step(ok(StageResult(items=1)))] == [(names.PREPARE, "b2")]
    assert r.step(refused("staged rows written by a newer Harvest")) == [] and r.done  # b4 never starts
    outcome = LaneOutcome.model_validate(r.output)
    assert outcome.failure is not None and "newer Harvest" in outcome.failure
    assert outcome.result.counts.added == 1 and outcome.result.timings.keys() >= {"fetch", "embed", "commit"}


def test_a_source_lane_runs_its_sources_one_at_a_time_and_outlives_a_failed_one() -> None:
    tasks = [SourceTask(run_id=RUN, source_id=sid) for sid in ("a", "b", "c")]
    r = Replay(source_lane, SourceLaneTask(run_id=RUN, lane=0, tasks=tasks), instance_id=names.source_lane_id(RUN, 0),
               parent=RUN)
    started = [r.next()]
    started.append(r.step(ok(SourceResult(source_id="a", status="completed"))))
    started.append(r.step(crashed("source orchestration terminated")))
    assert [[(a.name, a.instance_id) for a in step] for step in started] == [
        [(names.SOURCE_ORCHESTRATOR, names.source_instance_id(RUN, sid))] for sid in ("a", "b", "c")]
    assert r.step(ok(SourceResult(source_id="c", status="partial"))) == [] and r.done
    done = SourceLaneResult.model_validate(r.output).results
    assert {sid: v.status for sid, v in done.items()} == {"a": "completed", "b": "failed", "c": "partial"}
    assert "terminated" in (done["b"].message or "")


def run(trigger: str = "http") -> Replay:
    return Replay(run_orchestrator, RunInput(run_id=RUN, trigger=trigger, requested_at=T0), instance_id=RUN)


def plan(sources: list[str], window: int, **fields: Any) -> RunPlan:
    return RunPlan(sources=sources, batch_sizes=dict.fromkeys(sources, 8), max_parallel_sources=window,
                   pages_per_execution=20, failure_threshold=0.5, **fields)


def opened(r: Replay, the_plan: RunPlan) -> list[Action]:
    """Plan and open the run; the sources' start."""
    assert names_of(r.next()) == [("activity", names.LOAD_SOURCES)]
    assert names_of(r.step(ok(the_plan))) == [("activity", names.OPEN_RUN)]
    return r.step(ok(RunSummary(run_id=RUN, status="running", trigger="http")))


def closed(r: Replay, close: list[Action], trigger: str = "http") -> dict[str, Any]:
    """Close the run, publish, notify (and on the daily run apply retention); the summary it closed with."""
    assert names_of(close) == [("activity", names.CLOSE_RUN)]
    summary: dict[str, Any] = close[0].input["summary"]
    after = [("activity", names.PUBLISH_RUN), ("activity", names.NOTIFY_RUN)]
    after += [("activity", names.APPLY_RETENTION)] if trigger == "timer" else []
    answers = [ok(summary), ok({"report": "runs/run-1/report.html"}), ok({"notifications": []}), ok({})]
    for expected, answer in zip(after, answers, strict=False):
        assert names_of(r.step(answer)) == [expected]
    assert r.step(answers[len(after)]) == [] and r.done
    assert r.output["report"] == "runs/run-1/report.html" and r.output["status"] == summary["status"]
    return summary


def test_no_more_sources_than_the_window_start_together_as_source_orchestrations() -> None:
    r = run()
    started = opened(r, plan(["a", "b"], window=2))
    assert [(a.kind, a.name, a.instance_id) for a in started] == [
        ("sub", names.SOURCE_ORCHESTRATOR, names.source_instance_id(RUN, sid)) for sid in ("a", "b")]
    assert [a.input["source_id"] for a in started] == ["a", "b"]
    close = r.step(ok(SourceResult(source_id="a", status="completed")), crashed("source b: out of memory"))
    summary = closed(r, close)
    assert summary["status"] == "partial"  # one failed source of two never fails the run
    assert summary["sources"]["b"]["status"] == "failed" and "out of memory" in summary["sources"]["b"]["message"]


def test_more_sources_than_the_window_run_in_that_many_source_lanes() -> None:
    r = run()
    the_plan = plan(["a", "b", "c", "d", "e"], window=2, weights={"a": 50, "b": 10, "c": 10, "d": 20, "e": 5})
    started = opened(r, the_plan)
    assert [(a.kind, a.name, a.instance_id) for a in started] == [
        ("sub", names.SOURCE_LANE, names.source_lane_id(RUN, lane)) for lane in range(2)]
    lanes = [[t["source_id"] for t in a.input["tasks"]] for a in started]
    assert lanes == [["a"], ["b", "c", "d", "e"]]  # longest first onto the least loaded lane
    first = SourceLaneResult(results={"a": SourceResult(source_id="a", status="completed")})
    close = r.step(ok(first), crashed("lane terminated"))
    summary = closed(r, close)
    assert summary["sources"]["a"]["status"] == "completed"
    assert all("its source lane failed" in summary["sources"][sid]["message"] for sid in "bcde")


@pytest.mark.parametrize("trigger", ["http", "timer"])
def test_only_the_daily_run_applies_retention(trigger: str) -> None:
    r = run(trigger)
    opened(r, plan(["a"], window=2))
    closed(r, r.step(ok(SourceResult(source_id="a", status="completed"))), trigger)


def test_a_failed_plan_still_closes_reports_and_notifies_the_run() -> None:
    r = run()
    assert names_of(r.next()) == [("activity", names.LOAD_SOURCES)]
    summary = closed(r, r.step(refused("sources.yaml: invalid manifest")))
    assert summary["status"] == "failed" and summary["message"] == "load_sources: sources.yaml: invalid manifest"


def test_a_run_whose_close_is_refused_is_closed_again_as_failed() -> None:
    r = run()
    opened(r, plan(["a"], window=2))
    first = r.step(ok(SourceResult(source_id="a", status="completed")))
    assert names_of(first) == [("activity", names.CLOSE_RUN)] and first[0].input["summary"]["status"] == "completed"
    again = r.step(refused("run record changed by another writer"))
    assert names_of(again) == [("activity", names.CLOSE_RUN)]
    assert again[0].input["summary"]["status"] == "failed"
    assert again[0].input["summary"]["message"].startswith("could not close the run: close_run: run record changed")
    assert names_of(r.step(ok(again[0].input["summary"]))) == [("activity", names.PUBLISH_RUN)]
