"""``GET /api/health``: settings valid, storage reachable, manifest valid, embedder loadable — each check
with its outcome and time, so a 503 says exactly what is wrong."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.errors import ConfigError

TIMEOUT_S = 10.0


async def _timed(name: str, check: Callable[[], Awaitable[str]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        message = await asyncio.wait_for(check(), TIMEOUT_S)
        ok = True
    except TimeoutError:
        ok, message = False, f"no answer within {TIMEOUT_S:.0f} s"
    except ConfigError as exc:
        ok, message = False, "; ".join(f"{p['field']}: {p['message']}" for p in exc.problems) or str(exc)
    except Exception as exc:
        ok, message = False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    return {"name": name, "ok": ok, "message": message, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def check_health() -> tuple[bool, list[dict[str, Any]]]:
    from shared.embedding import get_embedder
    from shared.pipeline.context import manifest_for
    from shared.redact import redact_text
    from shared.settings import load_settings
    from shared.storage.blobs import BlobStore

    settings_box: dict[str, Any] = {}

    async def settings() -> str:
        settings_box["s"] = load_settings()
        return "valid"

    async def storage() -> str:
        async with BlobStore.from_settings(settings_box["s"]) as store:
            try:
                await store.container.get_container_properties()
                return f"container {store.container_name!r} reachable"
            except ResourceNotFoundError:
                return f"reachable; container {store.container_name!r} is created by the first run"

    async def manifest() -> str:
        loaded = manifest_for(settings_box["s"])
        return f"{len(loaded.sources)} source(s) in {loaded.path.name}"

    async def embedder() -> str:
        model = await asyncio.to_thread(get_embedder, settings_box["s"].embedder)
        return f"{model.model_id} loaded"

    checks = [await _timed("settings", settings)]
    if checks[0]["ok"]:
        checks += await asyncio.gather(_timed("storage", storage), _timed("manifest", manifest),
                                       _timed("embedder", embedder))
    for check in checks:
        check["message"] = redact_text(check["message"])
    return all(c["ok"] for c in checks), checks
