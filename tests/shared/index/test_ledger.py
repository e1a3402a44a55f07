"""The ledger's shard updates: a writer that names the entries it touches carries the others over as stored;
one that starts from the shard as it last saw it writes without reading, and loses nothing when another
writer came between."""

from __future__ import annotations

import asyncio

from shared.index import ledger
from shared.index.ledger import Entry, Version
from shared.pipeline.context import Context
from shared.storage import layout


def entry(doc: str, n: int = 1) -> Entry:
    return Entry(doc_id=doc, etag=f"e-{doc}-{n}", acked=Version(blob=f"b/{doc}", content_hash=f"h{n}", ordinals=n))


async def test_an_update_of_some_keys_carries_the_others_over_as_stored(ctx: Context) -> None:
    name = layout.ledger_blob("t", "g", "notes", "a")
    stored = {"docs": {"a1": {"doc_id": "one", "acked": {"content_hash": "h", "ordinals": 2}, "future": True},
                       "a2": entry("two").model_dump(mode="json", exclude_defaults=True)}}
    await ctx.store.write_json(name, stored)

    def change(entries: ledger.Shard) -> None:
        assert set(entries) == {"a2"}  # only the keys named were parsed
        entries["a2"] = entry("two", 2)
        entries["a3"] = entry("three")

    await ledger.update_shard(ctx.store, "t", "g", "notes", "a", change, keys={"a2", "a3"})
    value, _ = await ctx.store.read_json(name)
    assert value["docs"]["a1"] == stored["docs"]["a1"]  # untouched: as stored, unknown field and all
    shard = await ledger.read_shard(ctx.store, "t", "g", "notes", "a")
    assert (shard["a2"], shard["a3"]) == (entry("two", 2), entry("three"))


async def test_writers_of_one_shard_from_what_they_last_saw_lose_nothing(ctx: Context) -> None:
    seen: list[ledger.Seen] = [{} for _ in range(4)]
    for s in seen:
        await ledger.read_shard(ctx.store, "t", "g", "notes", "b", s)  # all four start from the empty shard

    async def writer(i: int) -> None:
        for n in range(5):
            def change(entries: ledger.Shard, key: str = f"b{i}-{n}") -> None:
                entries[key] = entry(key)

            await ledger.update_shard(ctx.store, "t", "g", "notes", "b", change, seen[i], keys={f"b{i}-{n}"})

    await asyncio.gather(*(writer(i) for i in range(4)))
    shard = await ledger.read_shard(ctx.store, "t", "g", "notes", "b")
    assert set(shard) == {f"b{i}-{n}" for i in range(4) for n in range(5)}
