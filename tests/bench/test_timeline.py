"""``bench.timeline``: activity seconds and calls from a run's history, the publish calls' start and length."""

from __future__ import annotations

import datetime as dt

from bench.timeline import activities, main
from devhost import history as h

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_activities_pair_each_completion_with_its_schedule_per_instance() -> None:
    source = [{"events": [h.event(h.ORCHESTRATOR_STARTED, ts=at(0)),
                          h.event(h.TASK_SCHEDULED, 0, at(1), Name="commit"),
                          h.event(h.TASK_SCHEDULED, 1, at(1), Name="commit")]},
              {"events": [h.event(h.TASK_COMPLETED, ts=at(3), TaskScheduledId=0),
                          h.event(h.TASK_FAILED, ts=at(5), TaskScheduledId=1),
                          h.event(h.TASK_SCHEDULED, 2, at(6), Name="publish_index")]},
              {"events": [h.event(h.TASK_COMPLETED, ts=at(8.5), TaskScheduledId=2)]}]
    lane = [{"events": [h.event(h.TASK_SCHEDULED, 0, at(2), Name="commit"),  # ids are per instance
                        h.event(h.TASK_COMPLETED, ts=at(2.5), TaskScheduledId=0)]}]
    out = activities({"run:src": source, "run:src:p0.1": lane})
    assert out["calls"] == {"commit": 3, "publish_index": 1}
    assert out["seconds"] == {"commit": 6.5, "publish_index": 2.5}
    assert out["publish"] == [{"start_s": 6.0, "seconds": 2.5}]


def test_a_bad_env_setting_is_refused_with_exit_2() -> None:
    assert main(["--docs", "1", "--env", "NOT_OURS=1"]) == 2
