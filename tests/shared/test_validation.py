"""Content validation: too short, wrong language, duplicates (against Azurite), and the skip counts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from shared.errors import SkippedError
from shared.models import BatchRef
from shared.sources import parse_spec
from shared.storage import layout, records
from shared.storage.blobs import BlobStore
from shared.validation import check_duplicate, check_text, detect_language, skip_counts

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


@pytest.fixture
async def store(azurite: str) -> AsyncIterator[BlobStore]:
    async with BlobStore.connect(container=f"v-{uuid.uuid4().hex[:12]}", connection_string=azurite) as s:
        await s.ensure_container()
        yield s


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
