"""Retention against Azurite: old finished runs lose record, report, staging and index entry; recent and
active runs stay; old idempotency keys go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.runs import idempotency
from shared.runs.index import RunQuery, list_runs
from shared.runs.retention import purge_expired
from shared.storage.blobs import BlobStore
from tests.shared.runs.conftest import make_run, seed


async def test_old_finished_runs_are_purged(store: BlobStore) -> None:
    now = datetime.now(UTC)
    old = await seed(store, make_run(1, when=now - timedelta(days=40)))
    old_active = await seed(store, make_run(2, "running", when=now - timedelta(days=41)))
    recent = await seed(store, make_run(3, when=now - timedelta(days=2)))
    for run in (old, recent):
        await store.write_bytes(f"runs/{run.run_id}/report.html", b"<html></html>")
        await store.write_bytes(f"runs/{run.run_id}/sources/docs/b1/refs.jsonl", b"{}\n")
    await idempotency.claim(store, "key-1", recent.run_id, "h")
    result = await purge_expired(store, now=now + timedelta(days=1), days=30)
    assert result["runs"] == [old.run_id] and result["blobs"] == 4
    left = [i["run_id"] for i in (await list_runs(store, RunQuery(limit=10)))[0]]
    assert left == [recent.run_id, old_active.run_id]
    assert not [n async for n in store.list_names(f"runs/{old.run_id}/")]
    assert await store.exists(f"runs/{recent.run_id}/report.html")
    assert (await purge_expired(store, now=now + timedelta(days=40), days=30))["idempotency_keys"] == 1
