"""The live view (``shared.runs.view``, through ``shared.runs.operations``): it names a source running only once
the run record says it started, adds what a running source's batch lanes have done to its counts, moves
elapsed time and the ETA with the clock, and carries the Durable status schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared import names
from shared.models import RunOptions, RunSummary, SourceCounts, SourceResult
from shared.runs import operations
from shared.runs.engine import Instance
from shared.runs.view import compose
from shared.storage.blobs import BlobStore
from tests.shared.runs.conftest import seed
from tests.shared.runs.test_operations import Engine

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def record(sources: dict[str, SourceResult]) -> RunSummary:
    return RunSummary(run_id="run-v1", status="running", trigger="http", options=RunOptions(), requested_at=T0,
                      started_at=T0, sources=sources)


def lanes_run(run_id: str = "run-v1") -> Instance:
    progress = {"run_id": run_id, "phase": "sources", "total": 3, "window": 2, "started_at": T0.isoformat(),
                "lanes": [names.source_lane_id(run_id, 0), names.source_lane_id(run_id, 1)]}
    return Instance(run_id, "Running", progress, None, {"run_id": run_id}, names.RUN_ORCHESTRATOR,
                    "2026-12-06T12:00:00Z", "2026-12-06T12:00:05Z")


def test_a_source_is_running_only_once_its_record_says_it_started() -> None:
    started = SourceResult(source_id="a", status="running", started_at=T0 + timedelta(seconds=1))
    rec = record({"a": started, "b": SourceResult(source_id="b"), "c": SourceResult(source_id="c")})
    view = compose(rec.model_dump(mode="json"), lanes_run(), {}, now=T0 + timedelta(seconds=30))
    assert view is not None
    assert {sid: s["status"] for sid, s in view["sources"].items()} == {"a": "running", "b": "pending",
                                                                       "c": "pending"}
    assert view["progress"]["running"] == 1 and view["progress"]["done"] == 0
    assert view["progress"]["elapsed_s"] == 30.0 and view["progress"]["eta_s"] is None  # no rate yet


def test_elapsed_totals_and_eta_move_with_the_clock_and_the_counts() -> None:
    rec = record({"a": SourceResult(source_id="a", status="running", started_at=T0),
                  "b": SourceResult(source_id="b", status="completed", started_at=T0, finished_at=T0 + timedelta(
                      seconds=40), counts=SourceCounts(discovered=10, added=10))})
    child = {"phase": "embed", "page": 0, "batch": 3, "batches": 8, "counts": {"discovered": 100, "added": 25}}
    early = compose(rec.model_dump(mode="json"), lanes_run(), {"a": child}, now=T0 + timedelta(seconds=20))
    later = compose(rec.model_dump(mode="json"), lanes_run(),
                    {"a": {**child, "counts": {"discovered": 100, "added": 50}}}, now=T0 + timedelta(seconds=30))
    assert early is not None and later is not None
    assert early["progress"]["totals"] == {"discovered": 110, "added": 35}
    assert later["progress"]["totals"] == {"discovered": 110, "added": 60}
    # a: 25 of 100 done in 20 s → 60 s left; then 50 of 100 in 30 s → 30 s left
    assert (early["progress"]["elapsed_s"], early["progress"]["eta_s"]) == (20.0, 60.0)
    assert (later["progress"]["elapsed_s"], later["progress"]["eta_s"]) == (30.0, 30.0)
    assert later["sources"]["a"]["position"] == {"page": 1, "batch": 3, "batches": 8}


def test_the_durable_status_schema_rides_along() -> None:
    view = compose(record({}).model_dump(mode="json"), lanes_run(), {}, now=T0)
    assert view is not None
    assert {k: view[k] for k in ("name", "instanceId", "runtimeStatus", "createdTime", "lastUpdatedTime")} == {
        "name": "run_orchestrator", "instanceId": "run-v1", "runtimeStatus": "Running",
        "createdTime": "2026-12-06T12:00:00Z", "lastUpdatedTime": "2026-12-06T12:00:05Z"}
    assert view["input"] == {"run_id": "run-v1"} and view["customStatus"]["phase"] == "sources"
    purged = RunSummary(run_id="run-v2", status="partial", trigger="cli", requested_at=T0, started_at=T0,
                        finished_at=T0 + timedelta(seconds=9)).model_dump(mode="json")
    gone = compose(purged, None, now=T0 + timedelta(hours=1))
    assert gone is not None and gone["runtimeStatus"] == "Completed" and gone["output"]["status"] == "partial"
    assert gone["progress"]["elapsed_s"] == 9.0 and gone["progress"]["eta_s"] == 0.0


async def test_a_running_sources_lanes_add_to_its_counts(store: BlobStore) -> None:
    rec = await seed(store, record({"a": SourceResult(source_id="a", status="running", started_at=T0)}))
    lane_ids = [names.batch_lane_id(rec.run_id, "a", 2, i) for i in range(2)]
    source = {"source_id": "a", "phase": "batches", "page": 2, "batch": 0, "batches": 6,
              "counts": {"discovered": 300, "added": 200}, "lanes": lane_ids}
    engine = Engine(lanes_run(rec.run_id), Instance(names.source_instance_id(rec.run_id, "a"), "Running", source),
                    Instance(lane_ids[0], "Running", {"batch": 2, "counts": {"added": 40}}),
                    Instance(lane_ids[1], "Completed", {"batch": 3, "counts": {"added": 60, "failed": 1}}))
    view = await operations.live_view(store, engine, rec.run_id)
    assert view is not None
    a: dict[str, Any] = view["sources"]["a"]
    assert a["counts"]["added"] == 300 and a["counts"]["failed"] == 1
    assert a["position"] == {"page": 3, "batch": 5, "batches": 6, "lanes": 2}


async def test_control_reaches_the_lanes_parents_first(store: BlobStore) -> None:
    rec = await seed(store, record({"a": SourceResult(source_id="a", status="running", started_at=T0)}))
    lane = names.batch_lane_id(rec.run_id, "a", 0, 1)
    engine = Engine(lanes_run(rec.run_id), Instance(names.source_lane_id(rec.run_id, 0), "Running"),
                    Instance(names.source_instance_id(rec.run_id, "a"), "Running", {"lanes": [lane]}),
                    Instance(lane, "Running"))
    await operations.control(store, engine, rec.run_id, "suspend", "later")
    order = [iid for method, iid in engine.calls if method == "suspend"]
    assert order == [rec.run_id, names.source_lane_id(rec.run_id, 0), names.source_lane_id(rec.run_id, 1),
                     names.source_instance_id(rec.run_id, "a"), lane]
    assert engine.instances[lane].runtime_status == "Suspended"
