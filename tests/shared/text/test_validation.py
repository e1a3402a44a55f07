"""Content validation: too short, wrong language, duplicates (against Azurite), and the skip counts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from shared.errors import SkippedError
from shared.models import BatchRef
from shared.sources import parse_spec
from shared.storage import layout, records
from shared.storage.blobs import BlobStore
from shared.text.validation import check_duplicate, check_text, detect_language, skip_counts

ENGLISH = "Bees survive the winter by clustering together and shivering their flight muscles to keep warm."
GERMAN = "Bienen überstehen den Winter, indem sie sich zu einer Traube zusammenschließen und zittern."


def spec(**fields: object):  # type: ignore[no-untyped-def]
    return parse_spec({"id": "s", "kind": "folder", "path": ".", **fields})


def test_short_and_language() -> None:
    check_text(ENGLISH, spec())
    with pytest.raises(SkippedError) as info:
        check_text("Too short.", spec())
    assert info.value.reason == "short"
    check_text("Too short.", spec(min_chars=0))
    assert detect_language(GERMAN)[0] == "de"
    check_text(GERMAN, spec(languages=["de", "en"]))
    with pytest.raises(SkippedError, match="'de'") as info:
        check_text(GERMAN, spec(languages=["en"]))
    assert info.value.reason == "language"
    check_text("Ja, das ist gut.  " * 2, spec(languages=["en"], min_chars=0))  # too short to judge: kept


def test_skip_counts() -> None:
    outcomes = [SkippedError("a", reason="short"), SkippedError("b", reason="duplicate"), {"status": "new"},
                SkippedError("c", reason="duplicate"), SkippedError("d", reason="robots")]
    assert skip_counts(outcomes) == {"skipped_short": 1, "skipped_language": 0, "skipped_duplicate": 2,
                                     "skipped_robots": 1}


async def test_duplicates_within_a_run_and_across_runs(store: BlobStore) -> None:
    run1 = BatchRef(run_id="run-1", source_id="s", batch_id="b0")
    await check_duplicate(store, run1, "a", "h" * 64)
    await check_duplicate(store, run1, "a", "h" * 64)  # a retried activity: its own claim
    with pytest.raises(SkippedError, match="earlier in this run") as info:
        await check_duplicate(store, run1, "b", "h" * 64)
    assert info.value.reason == "duplicate"
    # Next run: "a" never got committed (no record), so the index entry is not believed.
    run2 = BatchRef(run_id="run-2", source_id="s", batch_id="b0")
    await check_duplicate(store, run2, "b", "h" * 64)
    # Once "b" is committed with that text, another document with the same text is a duplicate.
    await records.write_doc(store, records.DocRecord(source_id="s", doc_id="b", url="u", content_hash="h" * 64,
                                                     current="corpus/s/x.jsonl", updated_at=datetime.now(UTC)))
    run3 = BatchRef(run_id="run-3", source_id="s", batch_id="b0", dry_run=True)
    with pytest.raises(SkippedError, match="same text as b"):
        await check_duplicate(store, run3, "c", "h" * 64)
    await check_duplicate(store, run3, "d", "k" * 64)
    assert not await store.exists(layout.text_index_blob("s", "k" * 64))  # a dry run writes no index


async def test_the_index_entry_is_the_runs_claim_no_separate_claim_blob(store: BlobStore) -> None:
    run = BatchRef(run_id="run-1", source_id="s", batch_id="b0")
    await check_duplicate(store, run, "a", "h" * 64)
    entry, _ = await store.read_json(layout.text_index_blob("s", "h" * 64))
    assert entry == {"doc_id": "a", "run_id": "run-1"}
    assert [n async for n in store.list_names("runs/")] == []  # nothing for the run to clean up


async def test_same_text_in_parallel_batches_lets_exactly_one_document_through(store: BlobStore) -> None:
    # an entry of an earlier run whose document no longer has the text: every contender finds it stale and
    # replaces it under its ETag; the losers re-read and see this run's winner
    await store.write_json(layout.text_index_blob("s", "h" * 64), {"doc_id": "gone", "run_id": "run-0"})
    run = BatchRef(run_id="run-1", source_id="s", batch_id="b0")

    async def one(doc_id: str) -> str:
        try:
            await check_duplicate(store, run.model_copy(update={"batch_id": f"b-{doc_id}"}), doc_id, "h" * 64)
            return "kept"
        except SkippedError as exc:
            assert exc.reason == "duplicate" and "earlier in this run" in str(exc)
            return "skipped"

    outcomes = await asyncio.gather(*(one(f"d{i}") for i in range(12)))
    assert sorted(outcomes) == ["kept"] + ["skipped"] * 11
    entry, _ = await store.read_json(layout.text_index_blob("s", "h" * 64))
    assert outcomes[int(entry["doc_id"][1:])] == "kept" and entry["run_id"] == "run-1"


async def test_an_old_format_or_unreadable_index_entry(store: BlobStore) -> None:
    index = layout.text_index_blob("s", "h" * 64)
    await records.write_doc(store, records.DocRecord(source_id="s", doc_id="live", url="u", content_hash="h" * 64,
                                                     current="corpus/s/x.jsonl", updated_at=datetime.now(UTC)))
    await store.write_json(index, {"doc_id": "live"})  # written before entries carried their run
    with pytest.raises(SkippedError, match=r"same text as live$"):
        await check_duplicate(store, BatchRef(run_id="run-1", source_id="s", batch_id="b0"), "new", "h" * 64)
    assert (await store.read_json(index))[0] == {"doc_id": "live"}  # a duplicate changes nothing
    await store.write_bytes(index, b"{not json")
    await check_duplicate(store, BatchRef(run_id="run-2", source_id="s", batch_id="b0"), "new", "h" * 64)
    assert (await store.read_json(index))[0] == {"doc_id": "new", "run_id": "run-2"}  # healed: taken over
