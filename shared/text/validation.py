"""Content validation: leave out documents not worth indexing, each counted with its reason.

After extraction, the fetch stage asks ``validate`` about every new or changed document:

- ``short``: the text is shorter than the source's ``min_chars`` (empty text is caught by extraction).
- ``language``: ``languages`` is set and py3langid is confident (probability ≥ ``MIN_CONFIDENCE``)
  that the text is in another language. Texts under ``MIN_LANGUAGE_CHARS`` are not judged.
- ``duplicate``: ``skip_duplicates`` and a *new* document has exactly the text (same content hash) of
  another live document of the source, or of one met earlier in this run. A changed document is never
  skipped as a duplicate (its previous version would stay current). The per-source text index
  (``state/{source}/texts/``) names the document and the run that claimed the text. An entry of the
  current run is this run's claim (another document came first, committed or not); an entry of an earlier
  run is only a pointer, believed only if the document it names still has that text, so a failed or
  rolled-back write can never hide a document. A new text costs one request (create-if-absent). Dry runs
  read the index and claim texts under ``runs/{run_id}/`` only.

A skipped document raises ``SkippedError``; ``skip_counts`` turns reasons into ``SourceCounts`` fields.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from shared.errors import CorruptBlobError, SkippedError, WriteContentionError
from shared.models import BatchRef
from shared.sources.base import SourceSpec
from shared.storage import layout, records
from shared.storage.blobs import BlobStore, dumps

SKIP_FIELDS = {"short": "skipped_short", "language": "skipped_language", "duplicate": "skipped_duplicate",
               "robots": "skipped_robots"}
MIN_LANGUAGE_CHARS = 40
MIN_CONFIDENCE = 0.8
LANGUAGE_SAMPLE = 4000
_MAX_OWNERS = 20  # earlier-run owners found stale in turn before giving up (each one is a record read)


@functools.cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language."""
    lang, prob = _identifier().classify(text[:LANGUAGE_SAMPLE])
    return str(lang), float(prob)


def check_text(text: str, spec: SourceSpec) -> None:
    """``SkippedError`` if the text is too short or confidently in a language the source does not want."""
    if len(text) < spec.min_chars:
        raise SkippedError(f"text has {len(text)} characters, fewer than min_chars {spec.min_chars}",
                           reason="short")
    if spec.languages and len(text) >= MIN_LANGUAGE_CHARS:
        lang, prob = detect_language(text)
        wanted = {code.lower() for code in spec.languages}
        if lang not in wanted and prob >= MIN_CONFIDENCE:
            raise SkippedError(f"text is in {lang!r} (p={prob:.2f}), not one of {sorted(wanted)}",
                               reason="language")


class _OwnerToCheck(Exception):
    """Another document from an earlier run owns the text: its record decides (read outside ``change``)."""

    def __init__(self, doc_id: str) -> None:
        super().__init__(doc_id)
        self.doc_id = doc_id


async def check_duplicate(store: BlobStore, batch: BatchRef, doc_id: str, digest: str) -> None:
    """``SkippedError`` if another document of the source has this text (see the module notes).

    The index entry is also this run's claim on the text: ``{"doc_id", "run_id"}``, created with
    If-None-Match for a text seen for the first time (one request), else replaced under its ETag. An entry of
    this run naming another document means that document came first in this run, whether or not it has been
    committed yet; an entry of an earlier run is believed only if its document still has the text."""
    if batch.dry_run:
        return await _check_in_dry_run(store, batch, doc_id, digest)
    mine = {"doc_id": doc_id, "run_id": batch.run_id}
    stale: set[str] = set()

    def claim(current: Any) -> dict[str, str]:
        owner = current if isinstance(current, dict) else {}  # absent or unreadable: unknown, taken over
        other = owner.get("doc_id")
        if not isinstance(other, str) or other == doc_id or other in stale:
            return mine
        if owner.get("run_id") == batch.run_id:
            raise SkippedError(f"same text as {other} (earlier in this run)", reason="duplicate")
        raise _OwnerToCheck(other)

    index = layout.text_index_blob(batch.source_id, digest)
    for _ in range(_MAX_OWNERS):
        try:
            await store.update_json(index, claim, likely_absent=True, heal=True)
            return
        except _OwnerToCheck as exc:
            if await _has_text(store, batch.source_id, exc.doc_id, digest):
                raise SkippedError(f"same text as {exc.doc_id}", reason="duplicate") from None
            stale.add(exc.doc_id)
    raise WriteContentionError(f"{index}: {_MAX_OWNERS} owners in turn")


async def _has_text(store: BlobStore, source_id: str, doc_id: str, digest: str) -> bool:
    rec = await records.read_doc(store, source_id, doc_id)
    return rec is not None and rec.has_text(digest)


async def _check_in_dry_run(store: BlobStore, batch: BatchRef, doc_id: str, digest: str) -> None:
    """A dry run reads the index but claims texts only under its own run (``runs/{run_id}/``)."""
    try:
        owner, _ = await store.read_json(layout.text_index_blob(batch.source_id, digest))
    except CorruptBlobError:
        owner = None
    other = owner.get("doc_id") if isinstance(owner, dict) else None
    if isinstance(other, str) and other != doc_id and await _has_text(store, batch.source_id, other, digest):
        raise SkippedError(f"same text as {other}", reason="duplicate")
    claim = layout.text_claim_blob(batch.run_id, batch.source_id, digest)
    mine = {"doc_id": doc_id}
    if not await store.create_if_absent(claim, dumps(mine)):
        try:
            first = json.loads(await store.read_bytes(claim) or b"{}")
        except ValueError:
            first = None
        if not isinstance(first, dict) or not isinstance(first.get("doc_id"), str):
            await store.write_bytes(claim, dumps(mine))  # unreadable claim: this document takes it
        elif first["doc_id"] != doc_id:
            raise SkippedError(f"same text as {first.get('doc_id')} (earlier in this run)", reason="duplicate")


def skip_counts(outcomes: Iterable[object]) -> dict[str, int]:
    """``SourceCounts`` fields for the skipped outcomes among ``outcomes``."""
    counts = dict.fromkeys(SKIP_FIELDS.values(), 0)
    for outcome in outcomes:
        if isinstance(outcome, SkippedError):
            counts[SKIP_FIELDS.get(outcome.reason, "skipped_short")] += 1
    return counts
