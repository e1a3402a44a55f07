"""The source orchestrator's publish step (issue 22): called after the last page, again while it returns a
cursor, its counts in the source's result; a failure never fails the source."""

from __future__ import annotations

from typing import Any

from shared import names
from shared.errors import PermanentError
from shared.models import RunSummary, SourceResult

from .conftest import RunFn
from .stub_app import Script


def source_result(status: dict[str, Any], sid: str = "a") -> SourceResult:
    return RunSummary.model_validate(status["output"]).sources[sid]


async def test_publish_runs_after_the_last_page_until_it_has_no_cursor(script: Script, start_run: RunFn) -> None:
    answers = iter([{"upserted": 5, "deleted": 1, "cursor": "7/3/0/0", "seconds": 1.0},
                    {"upserted": 2, "deleted": 0, "cursor": None, "seconds": 0.5}])
    script.handlers = {names.PUBLISH_INDEX: lambda p: next(answers)}
    status = await start_run()
    result = source_result(status)
    assert result.status == "completed"
    assert (result.counts.index_upserted, result.counts.index_deleted) == (7, 1)
    assert result.timings["publish"] == 1.5
    calls = script.called(names.PUBLISH_INDEX)
    assert [c["cursor"] for c in calls] == [None, "7/3/0/0"]
    order = script.names()
    assert order.index(names.PUBLISH_INDEX) > max(i for i, n in enumerate(order) if n in (names.COMMIT,
                                                                                        names.CHECKPOINT))
    assert order.index(names.FINISH_SOURCE) > order.index(names.PUBLISH_INDEX)
    summary = RunSummary.model_validate(status["output"])
    assert (summary.totals.index_upserted, summary.totals.index_deleted) == (7, 1)


async def test_a_publish_failure_makes_the_source_partial_not_failed(script: Script, start_run: RunFn) -> None:
    def refuse(payload: dict[str, Any]) -> Any:
        raise PermanentError("Azure AI Search refused: 400 bad index")

    script.handlers = {names.PUBLISH_INDEX: refuse}
    result = source_result(await start_run())
    assert result.status == "partial"
    assert [e.stage for e in result.errors] == ["publish"]
    assert "bad index" in result.errors[0].reason
    assert len(script.called(names.FINISH_SOURCE)) == 1  # the claim is still released


async def test_keys_the_index_refused_make_the_source_partial(script: Script, start_run: RunFn) -> None:
    script.handlers = {names.PUBLISH_INDEX: lambda p: {
        "upserted": 9, "failed": 1, "errors": [{"stage": "publish", "reason": "chunk x: 400 bad"}]}}
    result = source_result(await start_run())
    assert result.status == "partial" and result.counts.index_upserted == 9
    assert result.errors[0].reason == "chunk x: 400 bad"


async def test_a_dry_run_asks_the_publish_step_to_count_only(script: Script, start_run: RunFn) -> None:
    await start_run(dry_run=True)
    (call,) = script.called(names.PUBLISH_INDEX)
    assert call["dry_run"] is True
