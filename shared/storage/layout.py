"""Blob names: the single place that decides where everything lives in the container.

```
corpus/{source}/{doc_key}/{hash16}-{config}.jsonl     one document version: its chunks with vectors
corpus/{source}/{doc_key}/tombstone-{run_id}.json      the document disappeared in that run
state/{source}/checkpoint.json                         the source checkpoint (ETag-updated)
state/{source}/docs/{doc_key}.json                     the document record (ETag-updated)
state/{source}/failures.json                           documents that failed permanently, retried with backoff
runs/{run_id}/run.json                                 the run record (ETag-updated)
runs/{run_id}/cancelled.json                           the run was cancelled: its activities write nothing more
runs/{run_id}/sources.json                             the sources the run was started with (its manifest snapshot)
runs/{run_id}/report.html                              the run's HTML report (written when the run ends)
runs/{run_id}/sources/{source}/{batch}/{stage}.jsonl   staged batch data (claim-check)
control/active-run.json                                the one active run (created only if absent)
index/{target}/state.json                              the search index's generations (ETag-updated)
index/{target}/{generation}/{source}/{shard}.json      ledger: what that index acknowledged (ETag-updated)
index/{target}/{generation}/{source}/status.json       the last complete publish pass of the source
```
Names are deterministic so a retried activity rewrites or finds the same blob.
"""

from __future__ import annotations

import hashlib


def doc_key(source_id: str, doc_id: str) -> str:
    return hashlib.sha256(f"{source_id}\0{doc_id}".encode()).hexdigest()[:32]


def corpus_prefix(source_id: str | None = None) -> str:
    return "corpus/" if source_id is None else f"corpus/{source_id}/"


def doc_corpus_prefix(source_id: str, doc_id: str) -> str:
    """Every version and tombstone of one document."""
    return f"corpus/{source_id}/{doc_key(source_id, doc_id)}/"


def version_blob(source_id: str, doc_id: str, content_hash: str, config: str, generation: str | None = None) -> str:
    """``config`` identifies the embedding model and chunking settings that made the version;
    ``generation`` (the run id of a ``--reembed`` run) keeps a forced re-embedding from colliding with the
    version it replaces."""
    suffix = f"-{generation}" if generation else ""
    return f"{doc_corpus_prefix(source_id, doc_id)}{content_hash[:16]}-{config}{suffix}.jsonl"


def tombstone_blob(source_id: str, doc_id: str, run_id: str) -> str:
    return f"corpus/{source_id}/{doc_key(source_id, doc_id)}/tombstone-{run_id}.json"


def checkpoint_blob(source_id: str) -> str:
    return f"state/{source_id}/checkpoint.json"


def hints_blob(source_id: str) -> str:
    return f"state/{source_id}/hints.json"


def failures_blob(source_id: str) -> str:
    return f"state/{source_id}/failures.json"


def docs_prefix(source_id: str) -> str:
    return f"state/{source_id}/docs/"


def doc_record_blob(source_id: str, doc_id: str) -> str:
    return f"{docs_prefix(source_id)}{doc_key(source_id, doc_id)}.json"


def run_blob(run_id: str) -> str:
    return f"runs/{run_id}/run.json"


def active_run_blob() -> str:
    return "control/active-run.json"


def cancelled_blob(run_id: str) -> str:
    return f"runs/{run_id}/cancelled.json"


def sources_snapshot_blob(run_id: str) -> str:
    """The manifest the run was started with, written by its starter (``shared.runs.snapshot``)."""
    return f"runs/{run_id}/sources.json"


def report_blob(run_id: str) -> str:
    return f"runs/{run_id}/report.html"


def staging_blob(run_id: str, source_id: str, batch_id: str, stage: str) -> str:
    return f"runs/{run_id}/sources/{source_id}/{batch_id}/{stage}.jsonl"


def source_staging_prefix(run_id: str, source_id: str) -> str:
    return f"runs/{run_id}/sources/{source_id}/"


def seen_blob(run_id: str, source_id: str, page: int) -> str:
    return f"runs/{run_id}/sources/{source_id}/seen/p{page:05d}.json"


def seen_prefix(run_id: str, source_id: str) -> str:
    return f"runs/{run_id}/sources/{source_id}/seen/"


def chunk_id(source_id: str, doc_id: str, content_hash: str, ordinal: int) -> str:
    return hashlib.sha256(f"{source_id}\0{doc_id}\0{content_hash}\0{ordinal}".encode()).hexdigest()[:32]


def text_index_blob(source_id: str, content_hash: str) -> str:
    """Which document of a source first had this text (a hint for duplicate detection, verified
    against that document's record before it is believed)."""
    return f"state/{source_id}/texts/{content_hash[:32]}.json"


def text_claim_blob(run_id: str, source_id: str, content_hash: str) -> str:
    """The first document of this run with this text (duplicates within a run, dry runs included)."""
    return f"runs/{run_id}/sources/{source_id}/texts/{content_hash[:32]}.json"


def index_prefix(target: str) -> str:
    return f"index/{target}/"


def index_state_blob(target: str) -> str:
    return f"index/{target}/state.json"


def ledger_prefix(target: str, generation: str, source_id: str | None = None) -> str:
    base = f"index/{target}/{generation}/"
    return base if source_id is None else f"{base}{source_id}/"


def ledger_blob(target: str, generation: str, source_id: str, shard: str) -> str:
    """One shard of a source's ledger: the documents whose ``doc_key`` starts with ``shard``."""
    return f"index/{target}/{generation}/{source_id}/{shard}.json"


def ledger_status_blob(target: str, generation: str, source_id: str) -> str:
    return f"index/{target}/{generation}/{source_id}/status.json"
