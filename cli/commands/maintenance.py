"""`harvest compact --keep N`: remove old corpus versions (the Azure path is POST /api/maintenance/compact)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from cli.commands.common import err, fail, with_storage


def compact(
    keep: Annotated[int, typer.Option("--keep", min=1, help="Versions to keep per document (the current one always).")],
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Keep the newest N versions of every document and delete the rest; sweep unreferenced versions."""
    results = with_storage(lambda: _compact(keep, source), check_manifest=True)
    if as_json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        err.print(f"{r['source_id']}: {r['documents']} documents, {r['versions_removed']} old versions removed, "
                  f"{r['blobs_deleted']} blobs deleted", highlight=False)


async def _compact(keep: int, sources: list[str] | None) -> list[dict[str, Any]]:
    from shared.errors import ConfigError
    from shared.pipeline.compact import compact_source
    from shared.pipeline.context import open_context

    async with open_context() as ctx:
        try:
            ids = [s.id for s in ctx.manifest.select(sources)] if sources else ctx.manifest.ids()
        except ConfigError as exc:
            raise fail(str(exc)) from None
        return [(await compact_source(ctx, sid, keep)).model_dump(mode="json") for sid in ids]


def register(app: typer.Typer) -> None:
    app.command()(compact)
