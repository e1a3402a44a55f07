"""Content validation: leave out documents not worth indexing, each counted with its reason.

After extraction, the fetch stage asks ``validate`` about every new or changed document:

- ``short``: the text is shorter than the source's ``min_chars`` (empty text is caught by extraction).
- ``language``: ``languages`` is set and py3langid is confident (probability ≥ ``MIN_CONFIDENCE``)
  that the text is in another language. Texts under ``MIN_LANGUAGE_CHARS`` are not judged.
- ``duplicate``: ``skip_duplicates`` and a *new* document has exactly the text (same content hash) of
  another live document of the source, or of one met earlier in this run. A changed document is never
  skipped as a duplicate (its previous version would stay current). The per-source text index
  (``state/{source}/texts/``) is only a pointer: it is believed only if the document it names still has
  that text, so a failed or rolled-back write can never hide a document. Dry runs write only the
  in-run claims under ``runs/{run_id}/``.

A skipped document raises ``SkippedError``; ``skip_counts`` turns reasons into ``SourceCounts`` fields.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from shared.errors import CorruptBlobError, SkippedError
from shared.models import BatchRef
from shared.sources.base import SourceSpec
from shared.storage import layout, records
from shared.storage.blobs import BlobStore, dumps

SKIP_FIELDS = {"short": "skipped_short", "language": "skipped_language", "duplicate": "skipped_duplicate",
               "robots": "skipped_robots"}
MIN_LANGUAGE_CHARS = 40
MIN_CONFIDENCE = 0.8
LANGUAGE_SAMPLE = 4000


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


async def check_duplicate(store: BlobStore, batch: BatchRef, doc_id: str, digest: str) -> None:
    """``SkippedError`` if another document of the source has this text (see the module notes)."""
    source_id = batch.source_id
    index = layout.text_index_blob(source_id, digest)
    try:
        owner, _ = await store.read_json(index)
    except CorruptBlobError:  # a hint only: unreadable means unknown, and it is rewritten below
        owner = None
    if isinstance(owner, dict) and owner.get("doc_id") not in (None, doc_id):
        rec = await records.read_doc(store, source_id, owner["doc_id"])
        if rec is not None and not rec.deleted and rec.current and rec.content_hash == digest:
            raise SkippedError(f"same text as {owner['doc_id']}", reason="duplicate")
    claim = layout.text_claim_blob(batch.run_id, source_id, digest)
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
    if not batch.dry_run and owner != mine:
        await store.write_json(index, mine)


def skip_counts(outcomes: Iterable[object]) -> dict[str, int]:
    """``SourceCounts`` fields for the skipped outcomes among ``outcomes``."""
    counts = dict.fromkeys(SKIP_FIELDS.values(), 0)
    for outcome in outcomes:
        if isinstance(outcome, SkippedError):
            counts[SKIP_FIELDS.get(outcome.reason, "skipped_short")] += 1
    return counts
