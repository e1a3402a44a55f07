"""The sources a run was started with travel with the run (issue 25 item 3): the snapshot on Azurite, read
back through the manifest's validation, preferred by the activities over whatever the manifest says now."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.config.manifest import load_manifest
from shared.errors import ConfigError
from shared.models import RunOptions
from shared.pipeline.context import Context, open_context
from shared.pipeline.lifecycle import plan
from shared.runs import snapshot
from shared.settings import Settings
from shared.storage import layout
from tests.shared.config.test_sources_manifest import every_kind_manifest


@pytest.fixture
async def ctx(azurite: str, tmp_path: Path) -> AsyncIterator[Context]:
    (tmp_path / "docs").mkdir()
    (tmp_path / "sources.yaml").write_text("sources:\n  - {id: notes, kind: folder, path: docs}\n")
    settings = Settings(storage_connection=azurite, container=f"s-{uuid.uuid4().hex[:12]}",
                        manifest=str(tmp_path / "sources.yaml"), embedder="hashing")
    async with open_context(settings) as c:
        await c.store.ensure_container()
        yield c


async def test_every_kind_round_trips_through_the_snapshot(ctx: Context, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    started_with = load_manifest(every_kind_manifest(tmp_path / "m"))
    run_id = f"run-{uuid.uuid4().hex[:6]}"
    await snapshot.write_snapshot(ctx.store, run_id, started_with)
    snapshot._cache.clear()
    read = await snapshot.read_snapshot(ctx.store, run_id)
    assert read is not None
    assert read.sources == started_with.sources and read.base_dir == started_with.base_dir


async def test_a_run_uses_its_snapshot_not_the_current_manifest(ctx: Context, tmp_path: Path) -> None:
    """`harvest run --manifest m.yaml`, then a resume where HARVEST_MANIFEST names another file: the run's
    activities plan and build the sources of m.yaml (they raised KeyError 'gen')."""
    (tmp_path / "gen").mkdir()
    started_with = tmp_path / "m.yaml"
    started_with.write_text("sources:\n  - {id: gen, kind: folder, path: gen, batch_size: 7}\n")
    run_id = f"run-{uuid.uuid4().hex[:6]}"
    await snapshot.write_snapshot(ctx.store, run_id, load_manifest(started_with))
    started_with.unlink()  # a deploy that changed the manifest
    assert ctx.manifest.ids() == ["notes"]
    source = await ctx.run_source(run_id, "gen")
    assert source.spec.id == "gen" and source.root == (tmp_path / "gen").resolve()  # type: ignore[attr-defined]
    planned = await plan(ctx, RunOptions(), await ctx.run_manifest(run_id))
    assert planned.sources == ["gen"] and planned.batch_sizes == {"gen": 7}
    with pytest.raises(ConfigError, match=r"not in the manifest run .* was started with"):
        await ctx.run_source(run_id, "notes")


async def test_a_snapshot_is_written_once(ctx: Context, tmp_path: Path) -> None:
    run_id = f"run-{uuid.uuid4().hex[:6]}"
    await snapshot.write_snapshot(ctx.store, run_id, ctx.manifest)
    (tmp_path / "other").mkdir()
    (tmp_path / "o.yaml").write_text("sources:\n  - {id: other, kind: folder, path: other}\n")
    await snapshot.write_snapshot(ctx.store, run_id, load_manifest(tmp_path / "o.yaml"))  # a retried start
    snapshot._cache.clear()
    assert (await ctx.run_manifest(run_id)).ids() == ["notes"]


async def test_a_run_without_a_snapshot_uses_the_current_manifest(ctx: Context) -> None:
    """Runs started before snapshots existed (and orchestrations that pass no run id) keep working."""
    assert await snapshot.read_snapshot(ctx.store, "run-before") is None
    assert (await ctx.run_manifest("run-before")).ids() == ["notes"]
    assert (await ctx.run_manifest(None)).ids() == ["notes"]


async def test_an_unusable_snapshot_fails_naming_the_run(ctx: Context) -> None:
    await ctx.store.write_bytes(layout.sources_snapshot_blob("run-bad"), b"{not json")
    with pytest.raises(ConfigError, match="run-bad"):
        await snapshot.read_snapshot(ctx.store, "run-bad")
    await ctx.store.write_json(layout.sources_snapshot_blob("run-old"),
                               {"manifest": "/x/m.yaml", "sources": [{"id": "a", "kind": "gone-kind"}]})
    with pytest.raises(ConfigError, match="no longer validate"):
        await snapshot.read_snapshot(ctx.store, "run-old")
