"""The sources a run was started with travel with the run: its starter writes a snapshot of the manifest,
``runs/{run_id}/sources.json``, before the orchestration starts, and every activity that needs a source
(planning, discovery, fetching) builds it from that snapshot. A run resumed by another process — `harvest
resume` without the ``--manifest`` it was started with, `harvest serve`, an Azure instance after a deploy
that changed ``sources.yaml`` — finishes with the sources it started with.

The snapshot holds every source of the manifest as validated (the fields its entry sets) and the
manifest's path (relative folder paths resolve against its folder). It is written once (create-if-absent:
a retried start writes the same) and read back through the same validation as a manifest. A run started
before snapshots existed has none: its activities use the current manifest, as they did then.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

from shared.config.manifest import Manifest, parse_manifest
from shared.errors import ConfigError
from shared.storage import layout
from shared.storage.blobs import JSON_TYPE, BlobStore, dumps

VERSION = 1
_CACHE_SIZE = 8  # snapshots never change: a process keeps the last few runs' (activities of one run repeat)
_cache: OrderedDict[tuple[str, str], Manifest] = OrderedDict()


def snapshot_of(manifest: Manifest) -> dict[str, Any]:
    return {"version": VERSION, "manifest": str(manifest.path),
            "sources": [spec.model_dump(mode="json", exclude_unset=True) for spec in manifest.sources]}


async def write_snapshot(store: BlobStore, run_id: str, manifest: Manifest) -> None:
    """Keep ``manifest`` with run ``run_id`` (before its orchestration starts). Idempotent."""
    await store.ensure_container()
    await store.create_if_absent(layout.sources_snapshot_blob(run_id), dumps(snapshot_of(manifest)),
                                 content_settings=JSON_TYPE)


def manifest_of(data: Any, run_id: str) -> Manifest:
    """The manifest a snapshot holds, validated again; ``ConfigError`` naming the run when it is unusable."""
    where = f"the sources run {run_id} was started with ({layout.sources_snapshot_blob(run_id)})"
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list) or "manifest" not in data:
        raise ConfigError(f"{where}: not a manifest snapshot")
    try:  # relative folder paths resolve against the manifest's folder, as when the run started
        return parse_manifest({"sources": data["sources"]}, path=Path(str(data["manifest"])))
    except ConfigError as exc:  # a deploy removed a kind or a field it used
        raise ConfigError(f"{where} no longer validate", exc.problems) from None


async def read_snapshot(store: BlobStore, run_id: str) -> Manifest | None:
    """The manifest run ``run_id`` was started with, None when it has no snapshot (started before they
    existed)."""
    key = (store.container_name, run_id)
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    raw = await store.read_bytes(layout.sources_snapshot_blob(run_id))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError(f"the sources run {run_id} was started with: "
                          f"{layout.sources_snapshot_blob(run_id)} is not JSON") from None
    manifest = manifest_of(data, run_id)
    _cache[key] = manifest
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return manifest
