"""The run service (``shared.runs.operations``) against Azurite: the live view reads running sources by
their child instance ids, control refuses what it cannot apply and changes nothing then, cancel fences,
stops the run and its sources and frees them, purge waits for the run to end, and the report is the stored
one or else rendered from the record. The engine is a small in-memory ``OrchestrationControl`` (the real
Durable client and the local host are exercised by tests/e2e/test_run_control.py and test_operate.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared import names
from shared.models import RunSummary
from shared.runs import active, operations, record
from shared.runs.control import is_cancelled
from shared.runs.engine import Instance
from shared.runs.status import RUN_ACTIVE, RUN_FINAL, RUN_STATUSES, RUNTIME_ACTIVE, RUNTIME_ENDED, RUNTIME_TO_RUN
from shared.settings import Settings
from shared.storage import layout, records
from shared.storage.blobs import BlobStore
from tests.shared.runs.conftest import make_run, seed


class Engine:
    """Instances in a dict; every call recorded as (method, instance id)."""

    def __init__(self, *instances: Instance) -> None:
        self.instances = {i.instance_id: i for i in instances}
        self.calls: list[tuple[str, str]] = []

    async def get(self, instance_id: str) -> Instance | None:
        self.calls.append(("get", instance_id))
        return self.instances.get(instance_id)

    async def _set(self, method: str, instance_id: str, status: str) -> None:
        self.calls.append((method, instance_id))
        if instance_id not in self.instances:
            raise LookupError(instance_id)
        self.instances[instance_id] = replace(self.instances[instance_id], runtime_status=status)

    async def terminate(self, instance_id: str, reason: str) -> None:
        await self._set("terminate", instance_id, "Terminated")

    async def suspend(self, instance_id: str, reason: str) -> None:
        await self._set("suspend", instance_id, "Suspended")

    async def resume(self, instance_id: str, reason: str) -> None:
        await self._set("resume", instance_id, "Running")

    async def purge(self, instance_id: str) -> int:
        self.calls.append(("purge", instance_id))
        return int(self.instances.pop(instance_id, None) is not None)


SETTINGS = Settings(storage_connection="UseDevelopmentStorage=true")  # no notification channel


def running_run(i: int) -> RunSummary:
    run = make_run(i, "running", {"docs": "completed", "news": "running"})
    return run.model_copy(update={"finished_at": None})


def child(run_id: str, sid: str, status: str = "Running", custom: Any = None) -> Instance:
    return Instance(names.source_instance_id(run_id, sid), status, custom)


def test_one_set_of_statuses() -> None:
    assert {"pending", "running", "suspended"} == RUN_ACTIVE and set(RUN_STATUSES) == RUN_ACTIVE | RUN_FINAL
    assert not RUNTIME_ACTIVE & RUNTIME_ENDED and set(RUNTIME_TO_RUN) <= RUNTIME_ACTIVE | RUNTIME_ENDED
    assert set(RUNTIME_TO_RUN.values()) <= set(RUN_STATUSES)


async def test_live_view_reads_the_running_sources_by_their_child_instance_ids(store: BlobStore) -> None:
    run = await seed(store, running_run(1))
    progress = {"done": 1, "total": 2, "sources": {"docs": {"status": "completed"}, "news": {"status": "running"}}}
    engine = Engine(Instance(run.run_id, "Running", progress),
                    child(run.run_id, "news", custom={"phase": "embed", "page": 0, "batch": 2, "batches": 3,
                                                      "counts": {"added": 4}}),
                    child(run.run_id, "docs", "Completed"))
    view = await operations.live_view(store, engine, run.run_id)
    assert view is not None and view["status"] == "running" and view["runtime_status"] == "Running"
    assert view["sources"]["news"]["phase"] == "embed" and view["sources"]["news"]["counts"] == {"added": 4}
    assert view["sources"]["news"]["position"] == {"page": 1, "batch": 2, "batches": 3}
    assert view["sources"]["docs"]["phase"] == "done" and view["progress"]["done"] == 1
    assert ("get", f"{run.run_id}:news") in engine.calls and ("get", f"{run.run_id}:docs") not in engine.calls
    assert await operations.live_view(store, Engine(), "run-none") is None


async def test_control_refuses_a_final_run_and_changes_nothing(store: BlobStore) -> None:
    run = await seed(store, make_run(2, "completed"))
    engine = Engine(Instance(run.run_id, "Completed"))
    for operation in ("cancel", "suspend", "resume"):
        with pytest.raises(operations.RunConflict) as refused:
            await operations.control(store, engine, run.run_id, operation, "why", settings=SETTINGS)
        assert refused.value.message == f"cannot {operation} run {run.run_id}: it is completed"
    assert [c for c in engine.calls if c[0] != "get"] == []
    assert not await is_cancelled(store, run.run_id)
    with pytest.raises(operations.RunNotFound):
        await operations.control(store, engine, "run-none", "cancel", "why", settings=SETTINGS)
    suspended = Engine(Instance(run.run_id, "Suspended"))
    with pytest.raises(operations.RunConflict) as refused:  # the record is final: the record wins
        await operations.control(store, suspended, run.run_id, "resume", "why", settings=SETTINGS)
    assert refused.value.hint == "resume applies to runs that are suspended"


async def test_cancel_fences_stops_the_run_and_its_sources_and_frees_them(store: BlobStore) -> None:
    run = await seed(store, running_run(3))
    await records.update_checkpoint(store, "news", active_run=run.run_id)  # the run holds the source
    assert await active.acquire(store, run.run_id, trigger="http") is None
    engine = Engine(Instance(run.run_id, "Running"), child(run.run_id, "news"))
    done = await operations.control(store, engine, run.run_id, "cancel", "too slow", settings=SETTINGS)
    assert (done.status, done.released_sources) == ("cancelled", ["news"])
    assert ("terminate", run.run_id) in engine.calls and ("terminate", f"{run.run_id}:news") in engine.calls
    assert ("terminate", f"{run.run_id}:docs") in engine.calls  # tried; it had ended: fine
    assert await is_cancelled(store, run.run_id)
    kept = await record.read(store, run.run_id)
    assert kept is not None and kept.status == "cancelled" and kept.message == "too slow"
    assert kept.sources["news"].status == "skipped"
    assert (await records.read_checkpoint(store, "news")).active_run is None
    assert await active.read(store) is None


async def test_cancel_finishes_one_that_terminated_before_its_record_followed(store: BlobStore) -> None:
    run = await seed(store, running_run(4))
    engine = Engine(Instance(run.run_id, "Terminated"))
    done = await operations.control(store, engine, run.run_id, "cancel", "again", settings=SETTINGS)
    assert done.status == "cancelled" and ("terminate", run.run_id) not in engine.calls


async def test_suspend_and_resume_move_the_run_and_its_sources(store: BlobStore) -> None:
    run = await seed(store, running_run(5))
    engine = Engine(Instance(run.run_id, "Running"), child(run.run_id, "news"))
    assert (await operations.control(store, engine, run.run_id, "suspend", "later")).status == "suspended"
    assert engine.instances[f"{run.run_id}:news"].runtime_status == "Suspended"
    assert (await operations.control(store, engine, run.run_id, "resume", "now")).status == "running"
    assert engine.instances[f"{run.run_id}:news"].runtime_status == "Running"
    assert engine.instances[run.run_id].runtime_status == "Running"


async def test_purge_waits_for_the_end_then_deletes_everything(store: BlobStore) -> None:
    run = await seed(store, running_run(6))
    engine = Engine(Instance(run.run_id, "Running"), child(run.run_id, "news"), child(run.run_id, "docs"))
    with pytest.raises(operations.RunStillActive):
        await operations.purge(store, engine, run.run_id)
    assert await record.read(store, run.run_id) is not None
    engine.instances[run.run_id] = Instance(run.run_id, "Completed")
    await store.write_bytes(layout.report_blob(run.run_id), b"<html></html>")
    purged = await operations.purge(store, engine, run.run_id)
    assert purged.instances == 3 and purged.blobs >= 2
    assert await record.read(store, run.run_id) is None
    assert not await store.exists(layout.report_blob(run.run_id))
    with pytest.raises(operations.RunNotFound):
        await operations.purge(store, engine, run.run_id)


async def test_the_report_is_the_stored_one_or_rendered_from_the_record(store: BlobStore) -> None:
    run = await seed(store, make_run(7, "failed").model_copy(update={"message": "token=hunter2 was refused"}))
    await store.write_json(layout.run_blob(run.run_id), run.model_dump(mode="json"))
    rendered = await operations.report_html(store, run.run_id)
    assert rendered is not None and run.run_id.encode() in rendered
    assert b"hunter2" not in rendered  # rendered from the redacted record, as the published report is
    await store.write_bytes(layout.report_blob(run.run_id), b"<html>published</html>")
    assert await operations.report_html(store, run.run_id) == b"<html>published</html>"
    assert await operations.report_html(store, "run-none") is None
