"""Faults: the index refusing keys (207), throttling (429, 503 with Retry-After), requests too large
(413), and kill -9 in the middle of a publish pass. Each ends with the index equal to the live chunks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.errors import TransientError
from shared.index import generations, ledger
from shared.index.azure_search import KEY_ROUNDS, AzureSearchTarget
from shared.index.base import IndexTarget
from shared.index.keys import encode_key
from shared.index.lancedb_target import LanceDBTarget
from shared.pipeline.context import Context
from tests.conftest import REPO_ROOT
from tests.shared.index.conftest import Corpus, indexed, paragraphs, run_publish
from tests.shared.index.fake_search import FakeSearch
from tests.shared.index.test_sync import fill


@pytest.fixture
async def azure(fake: tuple[FakeSearch, str]) -> AsyncIterator[AzureSearchTarget]:
    service, url = fake
    target = AzureSearchTarget(url, "chunks", api_key=service.api_key, retry_total=1, key_backoff=0.01)
    yield target
    await target.close()


async def test_a_207_with_a_tenth_of_the_keys_failed_resends_only_those(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str], azure: AzureSearchTarget) -> None:
    service, _ = fake
    await fill(corpus, 20)
    live = sorted(await corpus.live_ids())
    failing = {encode_key(c) for c in live[::10]}
    service.fail_keys = failing
    result = await run_publish(ctx, azure)
    assert (result.upserted, result.failed) == (len(live), 0)
    assert service.actions_seen == len(live) + len(failing)  # the failed keys were sent again, alone
    assert await indexed(ctx, azure) == set(live)


async def test_keys_refused_past_the_retries_stay_pending_and_the_next_pass_sends_them(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str], azure: AzureSearchTarget) -> None:
    service, _ = fake
    await fill(corpus, 6)
    live = sorted(await corpus.live_ids())
    service.fail_keys, service.fail_times = {encode_key(live[0])}, KEY_ROUNDS + 1
    first = await run_publish(ctx, azure)
    assert first.failed == 1 and first.errors and "503" in first.errors[0].reason
    assert await indexed(ctx, azure) == set(live) - {live[0]}
    state = await generations.read_state(ctx.store, azure)
    status = await ledger.read_status(ctx.store, generations.target_id(azure), state.active.id, "notes")  # type: ignore[union-attr]
    assert status is not None and status["complete"] is False
    second = await run_publish(ctx, azure)  # the service has recovered
    assert (second.failed, await indexed(ctx, azure)) == (0, set(live))
    assert second.upserted >= 1


async def test_throttling_past_the_sdk_retries_asks_for_a_durable_wait_then_converges(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str], azure: AzureSearchTarget) -> None:
    service, _ = fake
    await fill(corpus, 4)
    await azure.ensure("warm-up", generations.GenState(id="x", model_id="m", dim=4).generation())  # index ops pass
    service.script = [(503, {"Retry-After": "7"}), (503, {"Retry-After": "7"})]  # the SDK retries once
    with pytest.raises(TransientError) as caught:
        await run_publish(ctx, azure)
    assert caught.value.retry_after == 7.0
    service.script = [(429, {"Retry-After": "0"})]  # within the SDK's retries: no error at all
    await run_publish(ctx, azure)
    assert await indexed(ctx, azure) == await corpus.live_ids()


async def test_a_413_halves_the_request_and_the_sdks_own_split_is_not_trusted(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str], azure: AzureSearchTarget) -> None:
    service, _ = fake
    await fill(corpus, 8)
    service.max_bytes = 12_000  # one chunk a request (each carries a 384-float vector, ~8 KB of JSON)
    result = await run_publish(ctx, azure)
    assert result.failed == 0
    assert 413 in {status for _, _, status in service.requests}
    assert await indexed(ctx, azure) == await corpus.live_ids()


@pytest.mark.parametrize("kind", ["lancedb", "azure-search"])
async def test_kill_9_between_the_index_answer_and_the_ledger_converges_without_leaks(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str], tmp_path: Path, kind: str) -> None:
    """The pass is killed after the index acknowledged a group of uploads and before the ledger recorded it.
    Then every document changes: the versions the dead pass sent must still be deleted (the write-ahead
    entry names them), or the index would keep chunks of versions no ledger acknowledged."""
    _, url = fake
    await fill(corpus, 30)
    where = str(tmp_path / "lancedb") if kind == "lancedb" else url
    env = {**os.environ, "HARVEST_CRASHPOINT": "index.sent", "HARVEST_CRASHPOINT_HIT": "3",
           "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.shared.index.publish_main", ctx.settings.storage_connection
                           or "", ctx.settings.container, kind, where], env=env, capture_output=True, text=True,
                          timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == -9, proc.stderr[-2000:]
    target: IndexTarget = (LanceDBTarget(where, "chunks") if kind == "lancedb"
                           else AzureSearchTarget(url, "chunks", api_key="test-admin-key"))
    sent = await indexed(ctx, target)
    assert sent and sent < await corpus.live_ids()  # killed mid-pass, with writes the ledger never recorded
    for d in range(30):
        await corpus.put(f"doc-{d:02d}", paragraphs(d, 2, version=5))
    await run_publish(ctx, target)
    assert await indexed(ctx, target) == await corpus.live_ids()
    await target.close()


@pytest.mark.parametrize("kind", ["lancedb", "azure-search"])
@pytest.mark.parametrize("point", ["index.batch_intent", "index.batch_sent"])
async def test_kill_9_while_a_batch_publishes_converges_without_leaks(
        ctx: Context, corpus: Corpus, fake: tuple[FakeSearch, str], tmp_path: Path, kind: str, point: str) -> None:
    """A process committing batches that publish their own documents is killed in its second batch's publish:
    after its intents (nothing sent yet) or after the index acknowledged (nothing recorded yet). Then every
    document changes and the end-of-source pass runs: the index must equal the live chunks — the versions the
    dead batch sent are named in its intents, so they are deleted, not leaked."""
    _, url = fake
    where = str(tmp_path / "lancedb") if kind == "lancedb" else url
    env = {**os.environ, "HARVEST_CRASHPOINT": point, "HARVEST_CRASHPOINT_HIT": "2", "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run([sys.executable, "-m", "tests.shared.index.batch_main", ctx.settings.storage_connection
                           or "", ctx.settings.container, kind, where, "30", "10"], env=env, capture_output=True,
                          text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == -9, proc.stderr[-2000:]
    target: IndexTarget = (LanceDBTarget(where, "chunks") if kind == "lancedb"
                           else AzureSearchTarget(url, "chunks", api_key="test-admin-key"))
    sent = await indexed(ctx, target)
    live = await corpus.live_ids()
    assert len(live) == 40  # two batches of 10 documents (2 chunks each) committed; the third never ran
    assert sent <= live and len(sent) == (40 if point == "index.batch_sent" else 20)  # the second batch: sent or not
    for d in range(30):
        await corpus.put(f"doc-{d:02d}", paragraphs(d, 2, version=5))
    await run_publish(ctx, target)
    assert await indexed(ctx, target) == await corpus.live_ids()
    await target.close()
