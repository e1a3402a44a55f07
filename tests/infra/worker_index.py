"""Load an app the way Azure's Python worker does and print what the host learns, as JSON.

Run as ``python tests/infra/worker_index.py APP_DIR`` (a fresh process: the worker imports ``function_app``
by module name and keeps its registry per process). Output: ``{"error": str | None, "functions": [...]}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(1, str(Path(__file__).resolve().parents[2]))  # devhost, after the app's own directory

from devhost.functions import describe
from devhost.worker import Worker, WorkerLoadError


async def main(app_dir: Path) -> dict[str, object]:
    worker = Worker()
    try:
        found = await worker.load_script(app_dir / "function_app.py")
    except WorkerLoadError as exc:
        return {"error": str(exc), "functions": []}
    rows = []
    for meta in found:
        info = describe(meta)
        rows.append({"name": info.name, "trigger": info.kind, "route": info.route,
                     "methods": sorted(info.methods) if info.methods else None,
                     "auth": info.auth_level if info.kind == "http" else None,
                     "clients": info.client_params, "schedule": info.schedule})
    return {"error": None, "functions": rows, "allocator": _allocator()}


def _allocator() -> str | None:
    """The memory allocator this interpreter started with (PYTHONMALLOC), where CPython's test module says."""
    try:
        import _testinternalcapi
    except ImportError:
        return None
    return str(_testinternalcapi.pymem_getallocatorsname())


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(Path(sys.argv[1]).resolve()))))
