"""BlobStore against a real Azurite: conditional creates, ETag-guarded updates under contention."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import ConflictError
from shared.storage.blobs import BlobStore


async def test_create_if_absent_never_overwrites(store: BlobStore) -> None:
    assert await store.create_if_absent("a/b.json", b"first") is True
    assert await store.create_if_absent("a/b.json", b"second") is False
    assert await store.read_bytes("a/b.json") == b"first"


async def test_concurrent_updates_lose_nothing(store: BlobStore) -> None:
    async def bump(_: int) -> None:
        for _ in range(10):
            await store.update_json("counter.json", lambda cur: {"n": (cur or {"n": 0})["n"] + 1}, attempts=200)

    await asyncio.gather(*(bump(i) for i in range(4)))
    value, etag = await store.read_json("counter.json")
    assert value == {"n": 40}
    assert etag


async def test_update_returning_none_or_same_writes_nothing(store: BlobStore) -> None:
    assert await store.update_json("absent.json", lambda cur: None) is None
    assert not await store.exists("absent.json")
    await store.write_json("x.json", {"a": 1})
    _, etag_before = await store.read_json("x.json")
    await store.update_json("x.json", lambda cur: cur)
    _, etag_after = await store.read_json("x.json")
    assert etag_before == etag_after


async def test_update_aborts_without_writing_when_change_raises(store: BlobStore) -> None:
    await store.write_json("x.json", {"a": 1})

    def refuse(_cur: object) -> object:
        raise ConflictError("no")

    with pytest.raises(ConflictError):
        await store.update_json("x.json", refuse)
    assert (await store.read_json("x.json"))[0] == {"a": 1}


async def test_jsonl_roundtrip_and_listing(store: BlobStore) -> None:
    rows = [{"i": i, "text": f"zeile {i} — ü"} for i in range(3)]
    await store.write_jsonl("p/one.jsonl", rows)
    await store.write_json("p/two.json", {})
    await store.write_json("q/three.json", {})
    assert await store.read_jsonl("p/one.jsonl") == rows
    assert [n async for n in store.list_names("p/")] == ["p/one.jsonl", "p/two.json"]
    assert await store.read_jsonl("missing.jsonl") == []


async def test_update_likely_absent_creates_or_falls_back_to_reading(store: BlobStore) -> None:
    seen: list[object] = []

    def add_one(cur: object) -> dict[str, int]:
        seen.append(cur)
        return {"n": (cur or {"n": 0})["n"] + 1}  # type: ignore[index]

    assert await store.update_json("fresh.json", add_one, likely_absent=True) == {"n": 1}
    assert seen == [None]  # created without reading first
    assert await store.update_json("fresh.json", add_one, likely_absent=True) == {"n": 2}  # existed: read, applied
    assert (await store.read_json("fresh.json"))[0] == {"n": 2}
    await store.write_json("kept.json", {"a": 1})
    # "nothing to write" is never decided on the guess alone: it reads and sees the blob
    assert await store.update_json("kept.json", lambda cur: cur and None, likely_absent=True) is None
    assert (await store.read_json("kept.json"))[0] == {"a": 1}


async def test_delete_prefix_deletes_everything_under_it(store: BlobStore) -> None:
    for i in range(40):
        await store.write_json(f"del/{i:02d}.json", {})
    await store.write_json("keep/one.json", {})
    assert await store.delete_prefix("del/") == 40
    assert [n async for n in store.list_names("del/")] == []
    assert await store.exists("keep/one.json")


async def test_update_json_etag_returns_the_etag_a_listing_shows_for_that_value(store: BlobStore) -> None:
    """``update_json_etag``: the ETag of the blob holding the returned value (created, updated, or unchanged:
    the one read) — what the index ledger stores so that a later listing says "this very record"."""

    async def listed(name: str) -> str:
        return (await store.list_etags("d/"))[name]

    created, etag1 = await store.update_json_etag("d/x.json", lambda cur: {"n": 1}, likely_absent=True)
    assert created == {"n": 1} and etag1 is not None and etag1.strip('"') == await listed("d/x.json")
    updated, etag2 = await store.update_json_etag("d/x.json", lambda cur: {"n": cur["n"] + 1})
    assert updated == {"n": 2} and etag2 != etag1 and (etag2 or "").strip('"') == await listed("d/x.json")
    same, etag3 = await store.update_json_etag("d/x.json", lambda cur: cur)  # nothing written: the read ETag
    assert same == {"n": 2} and etag3 == etag2
    absent, none = await store.update_json_etag("d/y.json", lambda cur: None)
    assert (absent, none) == (None, None)
    await store.write_bytes("d/z.json", b"{broken")
    healed, etag4 = await store.update_json_etag("d/z.json", lambda cur: {"n": 0}, heal=True)
    assert healed == {"n": 0} and (etag4 or "").strip('"') == await listed("d/z.json")


async def test_update_json_etag_from_a_known_value_writes_without_reading_unless_it_changed(
        store: BlobStore) -> None:
    reads = 0
    read_json = store.read_json

    async def counted(name: str) -> tuple[object, str | None]:
        nonlocal reads
        reads += 1
        return await read_json(name)

    store.read_json = counted  # type: ignore[method-assign]
    value, etag = await store.update_json_etag("k.json", lambda cur: {"n": 1})
    reads = 0
    value, etag = await store.update_json_etag("k.json", lambda cur: {"n": cur["n"] + 1}, known=(value, etag))
    assert (value, reads) == ({"n": 2}, 0)  # written on what the caller knew
    await store.update_json("k.json", lambda cur: {"n": 10})  # another writer comes between
    reads = 0
    value, _ = await store.update_json_etag("k.json", lambda cur: {"n": cur["n"] + 1}, known=(value, etag))
    assert (value, reads) == ({"n": 11}, 1)  # the stale write failed (412): read, applied again, nothing lost
    reads = 0
    value, _ = await store.update_json_etag("k.json", lambda cur: cur, known=({"n": 11}, "\"stale\""))
    assert reads == 1  # "nothing to write" is decided on what the blob holds, never on what the caller knew
