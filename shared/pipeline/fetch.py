"""Full-text fetching: fetch and extract each document of a batch, classify it by content checksum.

Rows written to ``texts.jsonl``: ``status`` is ``new``, ``changed`` or ``unchanged``; new and changed
rows carry the extracted text. A document that cannot be fetched or extracted becomes an error record
(``transient`` tells whether a later run may succeed); it never fails the batch.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from shared.errors import PermanentError, SkippedError, TransientError
from shared.faults import crashpoint
from shared.fetching.http import HttpClient
from shared.models import BatchRef, DocumentRef, ErrorRecord, SourceCounts, StageResult
from shared.pipeline.context import Context
from shared.pipeline.staging import read_stage, write_stage
from shared.sources.base import Source
from shared.storage import failures, records
from shared.text.extract import Extracted, ExtractLimits, content_hash, detect_format, extract
from shared.text.validation import check_duplicate, check_text, skip_counts


async def fetch(ctx: Context, batch: BatchRef) -> StageResult:
    started = time.perf_counter()
    refs = [DocumentRef.model_validate(r) for r in await read_stage(ctx.store, batch, "refs")]
    source = await ctx.run_source(batch.run_id, batch.source_id, share=batch.share)
    limit = asyncio.Semaphore(ctx.settings.http_concurrency)
    async with ctx.http() as http:

        async def one(ref: DocumentRef) -> dict[str, Any] | ErrorRecord | SkippedError:
            async with limit:
                return await _fetch_one(ctx, source, http, batch, ref)

        outcomes = await asyncio.gather(*(one(r) for r in refs))

    rows = [o for o in outcomes if isinstance(o, dict)]
    errors = [o for o in outcomes if isinstance(o, ErrorRecord)]
    failed = [(ref.doc_id, ref.hint, o.reason) for ref, o in zip(refs, outcomes, strict=True)
              if isinstance(o, ErrorRecord) and not o.transient]
    if failed and not batch.dry_run:  # remembered, so later runs wait before fetching them again
        s = ctx.settings
        await failures.remember(ctx.store, batch.source_id, run_id=batch.run_id, now=datetime.now(UTC),
                                failed=failed, base_hours=s.failed_retry_hours,
                                cap_hours=s.failed_retry_max_hours)
    await write_stage(ctx.store, batch, "texts", rows)
    crashpoint("fetch.staged")
    counts = SourceCounts(
        added=sum(r["status"] == "new" for r in rows),
        updated=sum(r["status"] == "changed" for r in rows),
        unchanged=sum(r["status"] == "unchanged" for r in rows),
        failed=len(errors),
        **skip_counts(outcomes),
    )
    failed_hints = [ref.updated.isoformat() for ref, o in zip(refs, outcomes, strict=True)
                    if isinstance(o, ErrorRecord) and o.transient and ref.updated is not None]
    return StageResult(
        counts=counts,
        items=len(rows),
        seconds=time.perf_counter() - started,
        errors=errors,
        min_failed_hint=min(failed_hints) if failed_hints else None,
    )


def _config_of(record: records.DocRecord) -> str | None:
    """The config of the current version (records written before ``config`` existed: from its blob name)."""
    if record.config:
        return record.config
    stem = (record.current or "").rsplit("/", 1)[-1].removesuffix(".jsonl")
    parts = stem.split("-")
    return parts[1] if len(parts) >= 2 else None


async def _extract(ctx: Context, data: bytes, fmt: str, url: str | None) -> Extracted:
    """Extract in a worker thread within the document's time limit. A thread cannot be stopped: past the
    limit the document fails and the batch goes on while the thread finishes on its own (the size and depth
    limits inside ``extract`` keep that rare)."""
    s = ctx.settings
    limits = ExtractLimits(max_bytes=s.extract_max_bytes, max_depth=s.extract_max_depth, timeout_s=s.extract_timeout)
    try:
        return await asyncio.wait_for(asyncio.to_thread(extract, data, fmt=fmt, url=url, limits=limits),
                                      timeout=limits.timeout_s)
    except TimeoutError:
        raise PermanentError(f"extraction took longer than {limits.timeout_s:g} s") from None


async def _fetch_one(
    ctx: Context, source: Source, http: HttpClient, batch: BatchRef, ref: DocumentRef
) -> dict[str, Any] | ErrorRecord | SkippedError:
    record = await records.read_doc(ctx.store, batch.source_id, ref.doc_id)
    # the current version must exist to count as unchanged: a lost blob is written again (full refresh or not)
    current_ok = (record is not None and not record.deleted and record.current is not None
                  and await ctx.store.exists(record.current))
    reusable = current_ok and record is not None and _config_of(record) == ctx.chunk_config_hash() \
        and not batch.reembed
    try:
        fetched = await source.fetch(ref, http=http, known=record.hint if reusable and record else None)
        if fetched.not_modified and reusable and record is not None:  # conditional GET: 304
            return {"status": "unchanged", "doc_id": ref.doc_id, "url": ref.url, "title": ref.title or record.title,
                    "hint": ref.hint or fetched.hint, "updated": ref.updated.isoformat() if ref.updated else None,
                    "content_hash": record.content_hash, "format": None}
        fmt = detect_format(fetched.url or ref.url, fetched.content_type)
        extracted = await _extract(ctx, fetched.data, fmt, fetched.url)
    except SkippedError as exc:  # robots.txt, no text: counted, not a failure
        return exc
    except PermanentError as exc:
        return ErrorRecord(stage="fetch", doc_id=ref.doc_id, reason=str(exc), transient=False)
    except TransientError as exc:
        return ErrorRecord(stage="fetch", doc_id=ref.doc_id, reason=str(exc), transient=True)
    except Exception as exc:  # an extractor crash on one document must not fail the batch
        reason = f"{type(exc).__name__}: {exc}"
        return ErrorRecord(stage="fetch", doc_id=ref.doc_id, reason=reason[:500], transient=False)

    digest = content_hash(extracted.text)
    if record is None or record.deleted or record.current is None:
        status = "new"
    elif reusable and record.content_hash == digest:
        status = "unchanged"
    else:
        status = "changed"
    if status != "unchanged":
        try:
            check_text(extracted.text, source.spec)
            if status == "new" and source.spec.skip_duplicates:
                await check_duplicate(ctx.store, batch, ref.doc_id, digest)
        except SkippedError as exc:
            return exc
    row: dict[str, Any] = {
        "status": status,
        "doc_id": ref.doc_id,
        "url": ref.url,
        "title": ref.title or extracted.title or fetched.title,
        "hint": ref.hint or fetched.hint,
        "updated": ref.updated.isoformat() if ref.updated else None,
        "content_hash": digest,
        "format": extracted.format,
        # the version whose vectors embedding may reuse (so it need not read every document record again)
        "previous": record.current if status == "changed" and record is not None else None,
    }
    if status != "unchanged":
        row["text"] = extracted.text
    return row
