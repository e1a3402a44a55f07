"""`harvest index status | verify | rebuild`: the search index the runs keep equal to the corpus
(docs/index.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer

from cli.commands.common import environment, err, fail

app = typer.Typer(no_args_is_help=True, help="The search index (LanceDB locally, Azure AI Search in Azure).")


def _run(work: Any) -> dict[str, Any]:
    from shared.errors import HarvestError
    from shared.index import open_target
    from shared.pipeline.context import open_context

    async def main() -> dict[str, Any]:
        async with open_context() as ctx, open_target(ctx.settings) as target:
            if target is None:
                raise fail("HARVEST_INDEX is none: no search index is configured")
            result: dict[str, Any] = await work(ctx, target)
            return result

    env = environment()
    try:
        return asyncio.run(main())
    except HarvestError as exc:
        raise fail(str(exc).splitlines()[0]) from None
    finally:
        env.close()


def _print(value: dict[str, Any]) -> None:
    print(json.dumps(value, indent=2, default=str))


def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Target, model, counts, drift (index keys against live chunk keys), each source's last publish."""
    from shared.index.check import status as index_status

    out = _run(index_status)
    if as_json:
        _print(out)
        return
    active = out.get("active") or {}
    print(f"index: {out['target']} {out['name']} at {out['location']}")
    print(f"readers see: {out.get('reader_index') or 'nothing yet'}"
          + (f" ({active.get('model_id')}, {active.get('dim')} dimensions)" if active else ""))
    if out.get("next"):
        waiting = ", ".join(out.get("waiting_on") or []) or "nothing (switches on the next publish)"
        print(f"building: {out['next']['id']} for {out['next']['model_id']}; waiting on: {waiting}")
    d = out.get("drift")
    if d:
        print(f"live chunks: {d['live_chunks']}, in the index: {d['indexed']}, drift: {d['drift']} "
              f"({d['missing']} missing, {d['extra']} extra); chunks of another model: {d['other_model_chunks']}")
    for sid, st in sorted((out.get("sources") or {}).items()):
        when = st.get("at") if st else None
        print(f"  {sid}: " + (f"last publish {when}, {st.get('live')} live documents"
                              f"{', incomplete' if not st.get('complete') else ''}" if st else "never published"))


def verify(repair: Annotated[bool, typer.Option("--repair", help="Re-sync every source and fix what is off.")] = False,
           as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compare the index's keys with the live chunk keys; exit 1 on drift (``--repair``: re-sync first)."""
    from shared.index.check import current_generation, drift
    from shared.index.check import repair as index_repair
    from shared.index.generations import read_state

    async def check(ctx: Any, target: Any) -> dict[str, Any]:
        if repair:
            return await index_repair(ctx, target)
        current = current_generation(await read_state(ctx.store, target), target)
        if current is None:
            return {"drift": None}
        return {"drift": (await drift(ctx, target, current.gen, current.physical)).summary()}

    out = _run(check)
    d = out.get("drift")
    if as_json:
        _print(out)
    elif d is None:
        err.print("nothing published yet: run `harvest run` first", highlight=False)
    else:
        print(f"{d['index']}: {d['live_chunks']} live chunks, {d['indexed']} in the index; drift {d['drift']} "
              f"({d['missing']} missing, {d['extra']} extra)" + (" after repair" if repair else ""))
    if d is not None and d["drift"]:
        raise typer.Exit(1)


def rebuild(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A fresh index from the corpus, then readers switched to it (the old one is dropped)."""
    from shared.index.check import rebuild as index_rebuild

    out = _run(index_rebuild)
    if as_json:
        _print(out)
        return
    sent = sum(p.get("upserted", 0) for p in out["published"].values())
    if out.get("switched_to"):
        print(f"rebuilt: {sent} chunks into {out['switched_to']}; readers switched to it")
    else:
        print(f"built {out['generation']} ({sent} chunks); not switched: waiting on "
              f"{', '.join(out.get('waiting_on') or []) or 'its completion'}")
        raise typer.Exit(1)


app.command()(status)
app.command()(verify)
app.command()(rebuild)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="index")
