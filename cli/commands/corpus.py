"""`harvest export` and `harvest query`: read the current corpus."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.commands.common import (
    checked_source_id,
    environment,
    err,
    fail,
)


def export(out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")] = None,
           source: Annotated[str | None, typer.Option("--source", "-s")] = None) -> None:
    """The current corpus as JSON Lines, one chunk a line (current, non-deleted versions only)."""
    if source is not None:
        checked_source_id(source)
    env = environment()
    unreadable: list[str] = []
    try:
        count = asyncio.run(_export(out, source, unreadable))
        known = _source_ids() if source is not None and count == 0 else set()
    finally:
        env.close()
    if source is not None and count == 0 and source not in known:
        raise fail(f"--source: no source {source!r} in the manifest or the corpus "
                   f"(sources: {', '.join(sorted(known)) or 'none'})")
    err.print(f"exported {count} chunks" + (f" to {out}" if out else ""), highlight=False)
    report_unreadable(unreadable)


def report_unreadable(names: list[str]) -> None:
    """Say which stored blobs a read skipped (their documents are left out), on stderr."""
    if not names:
        return
    err.print(f"warning: skipped {len(names)} unreadable blob(s), their documents left out "
              "(`harvest verify` reports, `harvest verify --repair` re-ingests them):", highlight=False, markup=False)
    for name in names:
        err.print(f"  {name}", highlight=False, markup=False)


def _source_ids() -> set[str]:
    from shared.errors import ConfigError
    from shared.pipeline.context import manifest_for
    from shared.settings import get_settings

    try:
        return set(manifest_for(get_settings()).ids())
    except ConfigError:
        return set()


async def _export(out: Path | None, source: str | None, unreadable: list[str]) -> int:
    from shared.corpus.read import iter_chunks
    from shared.pipeline.context import open_context

    count = 0
    stream = out.open("w", encoding="utf-8") if out else sys.stdout
    try:
        async with open_context() as ctx:
            async for row in iter_chunks(ctx.store, source, unreadable=unreadable):
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
    finally:
        if out:
            stream.close()
    return count


def query(text: Annotated[str, typer.Argument(help="What to look for.")],
          k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many chunks.")] = 5,
          source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source's chunks.")] = None,
          vector_only: Annotated[bool, typer.Option("--vector-only", help="No full-text part (hybrid by default, "
                                                    "where the index has one).")] = False,
          as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The chunks nearest TEXT, from the search index (HARVEST_INDEX; with none, a scan of the corpus)."""
    if not text.strip():
        raise fail("the query text is empty: say what to look for")
    if source is not None:
        checked_source_id(source)
    env = environment()
    unreadable: list[str] = []
    try:
        hits, note, where = asyncio.run(_query(text, k, source, not vector_only, unreadable))
    finally:
        env.close()
    report_unreadable(unreadable)
    if note:
        err.print(f"note: {note}", highlight=False, markup=False)
    rows = [{"score": round(h.score, 4), "source_id": h.chunk["source_id"], "doc_id": h.chunk["doc_id"],
             "url": h.chunk["url"], "title": h.chunk["title"], "ordinal": h.chunk["ordinal"],
             "chunk_id": h.chunk["chunk_id"], "snippet": " ".join((h.chunk.get("text") or "").split())[:240]}
            for h in hits]
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        if not note:
            err.print("no chunks in the corpus yet: run `harvest run` first")
        return
    err.print(f"from {where}", highlight=False, markup=False)
    for i, row in enumerate(rows, 1):
        print(f"{i}. {row['score']:.3f}  {row['title'] or row['doc_id']}  [{row['source_id']}]  {row['url']}")
        print(f"   {row['snippet']}")


async def _query(text: str, k: int, source: str | None, hybrid: bool,
                 unreadable: list[str]) -> tuple[list[Any], str | None, str]:
    from shared.corpus.read import search
    from shared.index import open_target
    from shared.index.check import search as index_search
    from shared.pipeline.context import open_context

    async with open_context() as ctx, open_target(ctx.settings) as target:
        if target is not None:
            hits, note = await index_search(ctx, target, text, k, source_id=source, hybrid=hybrid)
            return hits, note, f"{target.kind} index {target.name!r} ({'hybrid' if hybrid else 'vector'})"
        found = await search(ctx.store, ctx.embedder, text, k if source is None else 10_000, unreadable=unreadable)
        if source is not None:
            found = [h for h in found if h.chunk["source_id"] == source][:k]
        return found, None, "a scan of the corpus (HARVEST_INDEX=none)"


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command()(query)
