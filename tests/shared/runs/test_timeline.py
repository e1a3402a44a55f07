"""The report's documents-over-time chart (``shared.runs.timeline``) from the history of a real run, read
through the Durable status API as the publish activity reads it: the source orchestration's and its batch
lanes' histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import azure.durable_functions as df

from shared import names
from shared.pipeline.context import Context
from shared.runs.timeline import cumulative, processed_events
from tests.shared.pipeline.hosted import RunSource

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


async def test_a_real_runs_history_gives_the_documents_over_time(run_source: RunSource, ctx: Context,
                                                                 docs: Path) -> None:
    for i in range(9):
        (docs / f"note-{i}.md").write_text(f"# Note {i}\n\n" + "A line about tides and harbours. " * 30)
    result = await run_source.result(ctx, "run-timeline")
    assert result.counts.added == 9 and result.lanes > 1 and result.batches >= 3
    assert run_source.host is not None
    client = df.DurableOrchestrationClient(run_source.host.client_binding_json())
    ids = [run_source.instances[-1]] + [names.batch_lane_id("run-timeline", "notes", 0, lane)
                                        for lane in range(result.lanes)]
    history = []
    for iid in ids:
        status = await client.get_status(iid, show_history=True, show_history_output=True)
        history += [ev for ev in status.history or [] if isinstance(ev, dict)]
    assert any(ev.get("FunctionName") == names.PREPARE for ev in history)  # as the status API names them
    events = processed_events(history)
    assert len(events) == result.batches and sum(n for _, n in events) == 9
    points = cumulative(events, result.started_at)
    assert points[-1]["documents"] == 9 and [p["documents"] for p in points] == sorted(p["documents"] for p in points)


def test_a_second_run_counts_the_documents_discovery_dropped_as_unchanged() -> None:
    history = [  # the status API's shape: no TaskScheduled events, completions named, results parsed
        {"EventType": "TaskCompleted", "FunctionName": "discover", "Timestamp": "2026-11-23T02:00:05Z",
         "Result": {"outcome": "ok", "value": {"page": 0, "unchanged": 3}}},
        {"EventType": "TaskCompleted", "FunctionName": "prepare", "Timestamp": "2026-11-23T02:00:09Z",
         "Result": {"outcome": "ok", "value": {"fetch": {"counts": {"added": 4, "failed": 1}}}}},
        {"EventType": "TaskCompleted", "FunctionName": "embed", "Timestamp": "2026-11-23T02:00:10Z",
         "Result": {"outcome": "ok", "value": {"counts": {"chunks_embedded": 9}}}},
        {"EventType": "TaskFailed", "FunctionName": "prepare", "Timestamp": "2026-11-23T02:00:11Z"},
    ]
    points = cumulative(processed_events(history), T0)
    assert [(p["s"], p["documents"]) for p in points] == [(0.0, 0), (5.0, 3), (9.0, 8)]
    assert T0 + timedelta(seconds=9) == datetime.fromisoformat(points[-1]["t"])
