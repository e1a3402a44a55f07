"""`harvest sources retire ID`: take a removed source's documents out of the corpus (tombstones; history
kept). Refused while the source is still enabled in the manifest (its next run would bring them back)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from cli.commands.common import checked_source_id, environment, err, fail
from cli.commands.sources import app as sources_app


def retire(source_id: Annotated[str, typer.Argument(help="The source id (as in its stored state).")],
           reason: Annotated[str | None, typer.Option("--reason", help="Recorded with the tombstones.")] = None,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tombstone every document of a source that left the manifest: export and query stop returning them."""
    from shared.errors import ConflictError
    from shared.pipeline.context import manifest_for
    from shared.settings import get_settings

    checked_source_id(source_id, "ID")
    env = environment(check_manifest=True)
    try:
        manifest = manifest_for(get_settings())
        if source_id in manifest.ids() and manifest.get(source_id).enabled:
            raise fail(f"source {source_id!r} is still enabled in {manifest.path}: remove it (or set "
                       "enabled: false) first, or its next run brings its documents back")
        try:
            done = asyncio.run(_retire(source_id, reason))
        except ConflictError as exc:
            raise fail(str(exc)) from None
    finally:
        env.close()
    if as_json:
        print(json.dumps({"source_id": done.source_id, "retired": done.retired,
                          "already_deleted": done.already_deleted, "tombstone_run": done.tombstone_run}))
        return
    if done.retired == 0 and done.already_deleted == 0:
        err.print(f"source {source_id!r} has no documents stored: nothing to retire", highlight=False, markup=False)
        return
    print(f"{source_id}: {done.retired} document(s) retired ({done.already_deleted} already deleted); "
          "their history stays until `harvest compact`")


async def _retire(source_id: str, reason: str | None):  # type: ignore[no-untyped-def]
    from shared.pipeline.context import open_context
    from shared.retire import retire_source

    async with open_context() as ctx:
        return await retire_source(ctx.store, source_id, reason=reason)


def register(app: typer.Typer) -> None:
    sources_app.command("retire")(retire)
