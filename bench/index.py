"""``index_*``: the search index kept equal to the corpus (issue 22), into LanceDB and into the Azure AI
Search stand-in (``tests/shared/index/fake_search.py``, spoken to by the real ``azure-search-documents``).

A corpus of the seeded bench documents, chunked like the pipeline (256 tokens, 32 overlap) and embedded with
the hashing embedder, is written through the real commit path into an in-memory Azurite; then each scenario
changes it as a run would and one publish pass (every call, as the orchestrator makes them) follows. After
each scenario the drift — index keys against the live chunk keys ``harvest export`` prints — must be 0:
first run; unchanged re-run (0 upserts, 0 deletes); 1 % of the documents edited; 1 % deleted; a full refresh
(every record rewritten with a new change hint, text unchanged); a second source retired; kill -9 between
the index's answer and the ledger write, then resume (a subprocess, ``HARVEST_CRASHPOINT=index.sent``); a 207
failing 10 % of the keys once (stand-in only); a model change (a new index built, readers switched).
Throughput: chunks/s of the first publish into each target beside the embedders' own chunks/s (hashing, and
e5-small on a sample: the default model); a re-run's publish cost: seconds and index requests of the
unchanged pass.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import corpus
from bench.harness import REPO_ROOT, free_port, start_emulator
from devhost.azurite import azurite_connection_string
from shared.corpus.retire import retire_source
from shared.embedding.hashing import HashingEmbedder
from shared.index import generations
from shared.index.azure_search import AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.check import current_generation, drift
from shared.index.keys import encode_key
from shared.index.lancedb_target import LanceDBTarget
from shared.index.sync import publish_all
from shared.pipeline.context import Context, open_context
from shared.settings import Settings
from shared.text.chunking import chunk_text
from tests.shared.index.corpus import Corpus
from tests.shared.index.fake_search import FakeSearch, FakeSearchServer

SEED, CHUNK_TOKENS, CHUNK_OVERLAP = 1, 256, 32
E5_SAMPLE = 32  # chunks the e5-small model embeds for its chunks/s (it is ~4 chunks/s here)


def _texts(docs: int) -> list[list[str]]:
    embedder = HashingEmbedder()
    out = []
    for i in range(docs):
        doc = corpus.make_doc(SEED, i)
        chunks = chunk_text(corpus.render(doc), fmt=doc.fmt, embedder=embedder, max_tokens=CHUNK_TOKENS,
                            overlap=CHUNK_OVERLAP)
        out.append([c.text for c in chunks] or [doc.title])
    return out


def _embedder_rates(texts: list[list[str]]) -> dict[str, float]:
    flat = [t for doc in texts for t in doc]
    hashing = HashingEmbedder()
    started = time.perf_counter()
    hashing.embed_passages(flat)
    rates = {"hashing": round(len(flat) / (time.perf_counter() - started), 1)}
    from shared.embedding import get_embedder

    e5 = get_embedder("e5-small")
    e5.embed_passages(flat[:2])  # warm
    started = time.perf_counter()
    e5.embed_passages(flat[:E5_SAMPLE])
    rates["e5-small"] = round(min(E5_SAMPLE, len(flat)) / (time.perf_counter() - started), 2)
    return rates


async def _drift(ctx: Context, target: IndexTarget) -> int:
    where = current_generation(await generations.read_state(ctx.store, target), target)
    assert where is not None
    return (await drift(ctx, target, where.gen, where.physical)).drift


async def _scenarios(ctx: Context, target: IndexTarget, texts: list[list[str]], fake: FakeSearch | None,
                     log: Callable[[str], None]) -> dict[str, Any]:
    notes = Corpus(ctx)
    for i, paras in enumerate(texts):
        await notes.put(f"doc-{i:05d}", paras)
    other = Corpus(ctx, source_id="retired")
    for i in range(max(2, len(texts) // 100)):
        await other.put(f"r-{i}", texts[i][:2])
    out: dict[str, Any] = {}

    def requests() -> int:
        return len([r for r in fake.requests if "/docs/" in r[1]]) if fake else 0

    async def step(name: str, sources: tuple[str, ...] = ("notes",)) -> dict[str, Any]:
        before, started = requests(), time.perf_counter()
        up = down = 0
        for sid in sources:
            part = await publish_all(ctx, target, sid)
            up, down = up + part.upserted, down + part.deleted
        seconds = time.perf_counter() - started
        result = {"upserted": up, "deleted": down, "seconds": round(seconds, 3),
                  "index_requests": requests() - before if fake else None, "drift": await _drift(ctx, target)}
        if up:
            result["chunks_per_s"] = round(up / seconds, 1)
        out[name] = result
        log(f"    {name}: {result}")
        return result

    live = len(await notes.live_ids())
    await step("first_run", ("notes", "retired"))
    out["first_run"]["chunks"] = live
    await step("unchanged_rerun", ("notes", "retired"))
    n = max(1, len(texts) // 100)
    for i in range(n):  # 1 % edited: the last paragraph changes
        await notes.put(f"doc-{i:05d}", [*texts[i][:-1], texts[i][-1] + " (edited)"])
    await step("edit_1pct")
    for i in range(n, 2 * n):
        await notes.delete(f"doc-{i:05d}")
    await step("delete_1pct")
    async for name in ctx.store.list_names("state/notes/docs/"):  # a full refresh re-reads every document:
        await ctx.store.update_json(name, lambda v: {**v, "hint": f"refresh-{v.get('hint')}"})  # new hints only
    await step("full_refresh")
    await retire_source(ctx.store, "retired")
    await step("retire_source", ("retired",))
    edited = range(2 * n, 2 * n + max(4, len(texts) // 10))
    for i in edited:
        await notes.put(f"doc-{i:05d}", [*texts[i], "kill -9 edit"])
    out["kill_9_resume"] = await _kill_and_resume(ctx, target, fake, step)
    if fake is not None:
        for i in edited:
            await notes.put(f"doc-{i:05d}", [*texts[i], "207 edit"])
        new_ids = sorted(await notes.live_ids())
        fake.fail_keys = {encode_key(c) for c in new_ids[::10]}
        fake.actions_seen = 0
        result = await step("partial_207_10pct")
        result["keys_failed_once"] = len(fake.fail_keys)
        result["actions_sent"] = fake.actions_seen
        fake.fail_keys = set()
    settings = ctx.settings.model_copy(update={"embedder": "e5-small"})
    async with open_context(settings) as e5ctx:
        for i in range(len(texts)):
            if f"doc-{i:05d}" in notes.texts:
                await notes.put(f"doc-{i:05d}", notes.texts[f"doc-{i:05d}"], ctx=e5ctx)
        started = time.perf_counter()
        part = await publish_all(e5ctx, target, "notes")
        state = await generations.read_state(ctx.store, target)
        out["model_change"] = {"upserted": part.upserted, "switched_to": part.switched,
                               "seconds": round(time.perf_counter() - started, 3),
                               "drift": await _drift(e5ctx, target),
                               "active_model": state.active.model_id if state.active else None}
        log(f"    model_change: {out['model_change']}")
    return out


async def _kill_and_resume(ctx: Context, target: IndexTarget, fake: FakeSearch | None, step: Any) -> dict[str, Any]:
    where = str(target.path) if isinstance(target, LanceDBTarget) else target.endpoint  # type: ignore[attr-defined]
    env = {**os.environ, "HARVEST_CRASHPOINT": "index.sent", "HARVEST_CRASHPOINT_HIT": "2",
           "PYTHONPATH": str(REPO_ROOT)}
    proc = await asyncio.to_thread(subprocess.run, [
        sys.executable, "-m", "tests.shared.index.publish_main", ctx.settings.storage_connection or "",
        ctx.settings.container, target.kind, where], env=env, capture_output=True, timeout=600, cwd=REPO_ROOT)
    result: dict[str, Any] = await step("kill_9_resume")
    result["killed"] = proc.returncode == -9
    return result


def index_suite(*, docs: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    texts = _texts(docs)
    chunks = sum(len(t) for t in texts)
    log(f"  {docs} documents, {chunks} chunks; embedders alone ...")
    out: dict[str, Any] = {"docs": docs, "chunks": chunks, "embedder_chunks_per_s": _embedder_rates(texts)}
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        port = free_port()
        azurite = start_emulator(port, Path(tmp) / "azurite", patched=True)
        try:
            conn = azurite_connection_string(port)
            for kind in ("lancedb", "azure-search"):
                log(f"  [{kind}]")
                out[kind] = asyncio.run(_one(kind, conn, Path(tmp), texts, log))
        finally:
            azurite.terminate()
            azurite.wait(timeout=10)
    return out


async def _one(kind: str, conn: str, tmp: Path, texts: list[list[str]], log: Callable[[str], None]) -> dict[str, Any]:
    settings = Settings(storage_connection=conn, container=f"bench-{uuid.uuid4().hex[:10]}", embedder="hashing",
                        index_path=str(tmp / "lancedb"))
    async with open_context(settings) as ctx:
        await ctx.store.ensure_container()
        if kind == "lancedb":
            target: IndexTarget = LanceDBTarget(tmp / "lancedb", "chunks")
            try:
                return await _scenarios(ctx, target, texts, None, log)
            finally:
                await target.close()
        fake = FakeSearch()
        with FakeSearchServer(fake) as url:
            azure = AzureSearchTarget(url, "chunks", api_key=fake.api_key)
            try:
                return await _scenarios(ctx, azure, texts, fake, log)
            finally:
                await azure.close()


def headline(suite: dict[str, Any] | None) -> dict[str, Any]:
    """The suite's keys in ``latest.json``: the worst drift over every scenario and target, the unchanged
    re-run's sends, publish throughput against the embedders'."""
    if not suite:
        return {}
    drifts, resent = [], []
    for kind in ("lancedb", "azure-search"):
        for result in (suite.get(kind) or {}).values():
            if isinstance(result, dict) and "drift" in result:
                drifts.append(result["drift"])
        rerun = (suite.get(kind) or {}).get("unchanged_rerun") or {}
        resent.append(rerun.get("upserted", 0) + rerun.get("deleted", 0) + (rerun.get("index_requests") or 0))
    first = {k: ((suite.get(k) or {}).get("first_run") or {}).get("chunks_per_s") for k in ("lancedb", "azure-search")}
    e5 = (suite.get("embedder_chunks_per_s") or {}).get("e5-small")
    return {
        "index_max_drift": max(drifts) if drifts else None,
        "index_unchanged_rerun_sent": sum(resent),
        "index_publish_chunks_per_s_lancedb": first["lancedb"],
        "index_publish_chunks_per_s_azure_standin": first["azure-search"],
        "index_publish_vs_embedder_e5_lancedb": round(first["lancedb"] / e5, 1) if first["lancedb"] and e5 else None,
        "index_unchanged_rerun_publish_s_lancedb": ((suite.get("lancedb") or {}).get("unchanged_rerun") or {}).get(
            "seconds"),
    }
