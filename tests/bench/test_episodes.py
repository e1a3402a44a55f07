"""``bench.episodes`` (issue 21's probe): episodes, and work in flight per source and across sources."""

from __future__ import annotations

import datetime as dt

from bench.episodes import flight, main, peak
from devhost import history as h

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_peak_counts_overlaps_and_not_spans_that_touch() -> None:
    assert peak([]) == 0
    assert peak([(at(0), at(2)), (at(1), at(3)), (at(1.5), at(4))]) == 3
    assert peak([(at(0), at(1)), (at(1), at(2))]) == 1  # one ends as the next starts


def lane(first_id: int, start: float, end: float) -> list[dict]:
    return [{"events": [h.event(h.ORCHESTRATOR_STARTED, ts=at(start)),
                        h.event(h.TASK_SCHEDULED, first_id, at(start), Name="prepare")]},
            {"events": [h.event(h.ORCHESTRATOR_STARTED, ts=at(end)),
                        h.event(h.TASK_COMPLETED, ts=at(end), TaskScheduledId=first_id)]}]


def test_flight_reads_lanes_per_source_and_sources_at_once() -> None:
    history = {
        "run": [{"events": [h.event(h.ORCHESTRATOR_STARTED, ts=at(0))]}],
        "run:a": [{"events": [h.event(h.ORCHESTRATOR_STARTED, ts=at(0)),
                              h.event(h.TASK_SCHEDULED, 0, at(0), Name="discover")]}],
        "run:a:p0.0": lane(0, 1, 5), "run:a:p0.1": lane(0, 2, 6),  # task ids are per instance
        "run:b:p0.0": lane(0, 7, 9),  # b starts after a ends
    }
    out = flight(history)
    assert out["episodes"] == 8 and out["instances"] == 5 and out["prepare_calls"] == 3
    assert out["prepare_in_flight_peak_per_source"] == {"a": 2, "b": 1}
    assert out["sources_in_flight_peak"] == 1


def test_bad_arguments_are_refused_with_exit_2() -> None:
    assert main(["--docs", "0"]) == 2
