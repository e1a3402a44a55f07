"""A corpus of one source written through the real commit path (version blob, then document record), for the
index tests and the index benchmark."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from shared.corpus.read import iter_chunks
from shared.embedding.hashing import HashingEmbedder
from shared.index.batch import Committed
from shared.models import BatchRef
from shared.pipeline.commit import _touch, _write_version, tombstone
from shared.pipeline.context import Context

EMBEDDER = HashingEmbedder()


@dataclass
class Corpus:
    """Documents of one source, written as a run's commit writes them (version blob, then record)."""

    ctx: Context
    source_id: str = "notes"
    runs: int = 0
    texts: dict[str, list[str]] = field(default_factory=dict)

    async def put(self, doc_id: str, paragraphs: list[str], *, reembed: bool = False,
                  ctx: Context | None = None) -> Committed:
        """A new version of the document (``ctx``: one whose embedder id the version records, if not ours);
        returns what commit hands to the index (``shared.index.batch``)."""
        self.runs += 1
        run_id = f"run-{self.runs:04d}"
        digest = hashlib.sha256("\n".join(paragraphs).encode()).hexdigest()
        vectors = EMBEDDER.embed_passages(paragraphs)
        chunks = [{"ordinal": i, "text": p, "tokens": len(p.split()), "hash": hashlib.sha256(p.encode()).hexdigest(),
                   "vector": [float(x) for x in vectors[i]]} for i, p in enumerate(paragraphs)]
        row = {"doc_id": doc_id, "content_hash": digest, "url": f"file:///{doc_id}", "title": doc_id.title(),
               "hint": run_id, "status": "changed" if doc_id in self.texts else "new"}
        batch = BatchRef(run_id=run_id, source_id=self.source_id, batch_id="b0", reembed=reembed)
        done = await _write_version(ctx or self.ctx, batch, row, chunks)
        self.texts[doc_id] = paragraphs
        return done

    async def touch(self, doc_id: str) -> Committed | None:
        """The same text seen again with a new change hint (what commit does for an unchanged document)."""
        self.runs += 1
        run_id = f"run-{self.runs:04d}"
        batch = BatchRef(run_id=run_id, source_id=self.source_id, batch_id="b0")
        return await _touch(self.ctx, batch, {"doc_id": doc_id, "hint": run_id, "status": "unchanged"})

    async def delete(self, doc_id: str) -> None:
        self.runs += 1
        await tombstone(self.ctx.store, self.source_id, doc_id, f"run-{self.runs:04d}")
        self.texts.pop(doc_id, None)

    async def live_ids(self) -> set[str]:
        """What ``harvest export`` prints."""
        return {row["chunk_id"] async for row in iter_chunks(self.ctx.store)}


def paragraphs(doc: int, n: int, version: int = 0) -> list[str]:
    words = ["bees", "honey", "glacier", "river", "clock", "piano", "tea", "bread", "yeast", "ice"]
    return [" ".join(words[(doc * 7 + p * 3 + version + w) % len(words)] for w in range(40))
            + f" d{doc} p{p} v{version}" for p in range(n)]
