"""``aoai_quota_utilisation``: how much of an Azure OpenAI deployment's TPM quota the embedder uses.

The deployment is the local fake (``tests/shared/embedding/fake_aoai.py``: a real HTTP server speaking the
embeddings REST protocol) with a TPM and an RPM quota over a sliding window (60 s, as the service's
per-minute quota; ``window`` scales it down for a smoke run, and the result says so). ``workers`` threads,
as parallel embed activities of one host would, take batches of ``EMBED_BATCH`` chunks of the seeded bench
corpus (chunked like the pipeline: 256 cl100k tokens, 32 overlap) and call the real
``AzureOpenAIEmbedder.embed_passages`` until ``duration`` seconds (two windows) have passed; the batches
taken by then finish. Reported: tokens the fake accepted from requests that arrived inside the measured
interval divided by (TPM x windows in it), documents whose embedding failed, the 429s the fake answered, and
the pacer's final state. Every vector is checked against what the fake computes for its text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from bench import corpus
from shared.embedding.azure_openai import AzureOpenAIEmbedder
from shared.pipeline.embed import EMBED_BATCH
from shared.text.chunking import chunk_text
from tests.shared.embedding.fake_aoai import FakeAzureOpenAI, expected_vectors

CHUNK_TOKENS, CHUNK_OVERLAP, SEED = 256, 32, 1
API_KEY = "bench-key"


def chunk_stream(embedder: AzureOpenAIEmbedder, tokens: int) -> list[tuple[int, str, int]]:
    """``(document, chunk text, chunk tokens)`` of the bench corpus, in order, until ``tokens`` are reached."""
    out: list[tuple[int, str, int]] = []
    total, index = 0, 0
    while total < tokens:
        doc = corpus.make_doc(SEED, index)
        for chunk in chunk_text(corpus.render(doc), fmt=doc.fmt, embedder=embedder, max_tokens=CHUNK_TOKENS,
                                overlap=CHUNK_OVERLAP):
            out.append((index, chunk.text, chunk.tokens))
            total += chunk.tokens
        index += 1
    return out


def quota_suite(*, tpm: int = 150_000, rpm: int = 900, window: float = 60.0, duration: float = 120.0,
                workers: int = 4, concurrency: int = 4, log: Callable[[str], None] = print) -> dict[str, Any]:
    with FakeAzureOpenAI(api_key=API_KEY, tpm=tpm, rpm=rpm, window=window) as fake:
        embedder = AzureOpenAIEmbedder(endpoint=fake.endpoint, deployment=fake.deployment, model=fake.model,
                                       api_key=API_KEY, concurrency=concurrency, quota_window=window)
        try:
            chunks = chunk_stream(embedder, int(1.5 * tpm * duration / window))  # more than the quota admits
            docs_total = chunks[-1][0] + 1
            log(f"  {len(chunks)} chunks of {docs_total} documents, TPM {tpm:,}, RPM {rpm}, window {window} s, "
                f"{duration} s, {workers} workers ...")
            batches = iter([chunks[i : i + EMBED_BATCH] for i in range(0, len(chunks), EMBED_BATCH)])
            outcome = _drive(embedder, batches, workers, duration)
            pacer = embedder.pacer.state()
        finally:
            embedder.close()
        started, deadline, ended = outcome["started"], outcome["started"] + duration, outcome["ended"]
        accepted = fake.accepted_tokens(started, deadline)
        capacity = tpm * duration / window
        requests = [r for r in fake.requests if started <= r.started < deadline]
        per_doc: dict[int, int] = {}
        for doc, _, _ in chunks:
            per_doc[doc] = per_doc.get(doc, 0) + 1
        complete = [doc for doc, n in outcome["chunks_per_doc"].items()
                    if n == per_doc[doc] and doc not in outcome["docs_failed"]]
        result = {
            "quota": {"tpm": tpm, "rpm": rpm, "window_s": window, "clock_scaled": window != 60.0,
                      "note": "the fake's sliding window; 60 s is the service's per-minute quota"},
            "duration_s": duration,
            "workers": workers,
            "concurrency_ceiling": concurrency,
            "chunk_tokens": CHUNK_TOKENS,
            "batch": EMBED_BATCH,
            "tokens_accepted": accepted,
            "quota_capacity_tokens": round(capacity),
            "utilisation": round(accepted / capacity, 4),
            "requests_in_window": len(requests),
            "mean_request_tokens": round(accepted / max(1, sum(r.status == 200 for r in requests)), 1),
            "throttled_429": fake.throttled,
            "chunks_embedded": outcome["chunks_embedded"],
            "vectors_checked": outcome["vectors_checked"],
            "documents_embedded": len(complete),  # every chunk of the document embedded and checked
            "failed_documents": len(outcome["docs_failed"]),
            "failures": outcome["failures"][:5],
            "documents_in_stream": docs_total,
            "tail_s": round(ended - deadline, 3),
            "pacer": pacer,
        }
    log(f"    utilisation {result['utilisation']} ({accepted:,} of {round(capacity):,} tokens), "
        f"{result['failed_documents']} failed documents, {fake.throttled} 429s")
    return result


def _drive(embedder: AzureOpenAIEmbedder, batches: Iterator[list[tuple[int, str, int]]], workers: int,
           duration: float) -> dict[str, Any]:
    lock = threading.Lock()
    embedded: dict[int, int] = {}  # document -> chunks embedded (and checked)
    failed: set[int] = set()
    failures: list[str] = []
    counts = {"chunks": 0, "checked": 0}
    started = time.monotonic()
    deadline = started + duration

    def work() -> None:
        while time.monotonic() < deadline:
            with lock:
                batch = next(batches, None)
            if batch is None:
                return
            texts = [text for _, text, _ in batch]
            docs = {doc for doc, _, _ in batch}
            try:
                vectors = embedder.embed_passages(texts)
            except Exception as exc:  # counted and reported: the target is 0
                with lock:
                    failed.update(docs)
                    failures.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            ok = np.allclose(vectors, expected_vectors(texts, embedder.dim), atol=1e-5)
            with lock:
                counts["checked"] += len(texts)
                if not ok:
                    failed.update(docs)
                    failures.append("vectors differ from the fake's for the same texts")
                    continue
                counts["chunks"] += len(texts)
                for doc, _, _ in batch:
                    embedded[doc] = embedded.get(doc, 0) + 1

    threads = [threading.Thread(target=work, name=f"aoai-bench-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"started": started, "ended": time.monotonic(), "chunks_per_doc": embedded, "docs_failed": failed,
            "failures": failures, "chunks_embedded": counts["chunks"], "vectors_checked": counts["checked"]}
