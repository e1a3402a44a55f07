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
                          "already_deleted": done.already_deleted, "tombstone_run": done.tombstone_run,
                          "index_deleted": done.index_deleted, "index_error": done.index_error}))
        return
    if done.retired == 0 and done.already_deleted == 0:
        err.print(f"source {source_id!r} has no documents stored: nothing to retire", highlight=False, markup=False)
        return
    print(f"{source_id}: {done.retired} document(s) retired ({done.already_deleted} already deleted); "
          "their history stays until `harvest compact`")
    if done.index_error:
        err.print(f"warning: the search index was not updated ({done.index_error}); run `harvest index verify "
                  "--repair` when it answers again", highlight=False, markup=False)
    elif done.index_deleted:
        print(f"{source_id}: {done.index_deleted} chunk(s) deleted from the search index")


async def _retire(source_id: str, reason: str | None):  # type: ignore[no-untyped-def]
    from shared.corpus.retire import retire_source
    from shared.index import open_target
    from shared.index.sync import publish_all
    from shared.pipeline.context import open_context

    async with open_context() as ctx:
        done = await retire_source(ctx.store, source_id, reason=reason)
        try:  # the retired documents leave the search index too (outside a run, nothing else would publish them)
            async with open_target(ctx.settings) as target:
                if target is not None:
                    published = await publish_all(ctx, target, source_id)
                    done.index_deleted = published.deleted
        except Exception as exc:  # the corpus is retired either way; the index catches up on repair
            done.index_error = f"{type(exc).__name__}: {exc}"[:300]
        return done


def register(app: typer.Typer) -> None:
    sources_app.command("retire")(retire)
