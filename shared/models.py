"""Data models passed between the triggers, orchestrators, activities and storage.

Everything an orchestrator sees is small: ids, blob names and counts (claim-check). Document bodies,
chunks and vectors travel through Blob storage, never through Durable payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

RunStatus = Literal["pending", "running", "completed", "partial", "failed", "cancelled", "suspended"]
SourceStatus = Literal["pending", "running", "completed", "partial", "failed", "skipped"]
Trigger = Literal["http", "timer", "cli"]
Stage = Literal["discover", "fetch", "chunk", "embed", "commit", "publish"]
STAGES: tuple[Stage, ...] = ("discover", "fetch", "chunk", "embed", "commit")


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Message(BaseModel):
    """An activity's or orchestrator's input: a key it does not know is an error naming that key (a
    mistyped field must fail validation, not be dropped and read as its default)."""

    model_config = ConfigDict(extra="forbid")


class RunOptions(Model):
    """What a caller may ask of a run (the body of ``POST /api/runs``)."""

    model_config = ConfigDict(extra="forbid")

    sources: list[str] | None = Field(
        default=None, description="Only these source ids; all enabled sources when omitted."
    )
    full_refresh: bool = Field(default=False, description="Re-read every source from the beginning.")
    dry_run: bool = Field(default=False, description="Compute what would change; write only the report.")
    reembed: bool = Field(
        default=False, description="With a full refresh: embed every chunk again instead of reusing vectors."
    )

    @field_validator("sources")
    @classmethod
    def _sources_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise PydanticCustomError(
                "empty_sources", "must name at least one source id (omit it to run every enabled source)")
        return value

    @model_validator(mode="after")
    def _reembed_implies_full_refresh(self) -> RunOptions:
        if self.reembed:
            self.full_refresh = True
        return self


class RunInput(Model):
    """Input of the run orchestrator."""

    run_id: str
    trigger: Trigger
    options: RunOptions = RunOptions()
    requested_at: datetime


MAX_REASON = 300  # characters of a failure's reason kept in results and run records
MAX_ERROR_ID = 200  # characters of its document id (a URL, say) kept there


class ErrorRecord(Model):
    """One failure, kept in batch results and (the first few) in run records."""

    stage: Stage
    reason: str
    doc_id: str | None = None
    transient: bool = False

    @field_validator("reason")
    @classmethod
    def _bounded(cls, value: str) -> str:
        return value if len(value) <= MAX_REASON else value[: MAX_REASON - 1] + "…"

    @field_validator("doc_id")
    @classmethod
    def _bounded_id(cls, value: str | None) -> str | None:
        return value if value is None or len(value) <= MAX_ERROR_ID else value[: MAX_ERROR_ID - 1] + "…"


class SourceCounts(Model):
    discovered: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    chunks_reused: int = 0
    skipped_short: int = 0  # content validation (shared.text.validation): empty or shorter than min_chars
    skipped_language: int = 0  # not one of the source's languages
    skipped_duplicate: int = 0  # same text as another document of the source
    skipped_robots: int = 0  # robots.txt disallows it
    deferred: int = 0  # failed permanently in an earlier run; not fetched again until its retry time
    index_upserted: int = 0  # chunks (vectors) the search index acknowledged as written (shared/index)
    index_deleted: int = 0  # chunks the search index acknowledged as deleted

    def add(self, other: SourceCounts | dict[str, Any]) -> SourceCounts:
        data = other.model_dump() if isinstance(other, SourceCounts) else other
        return SourceCounts(**{k: getattr(self, k) + int(data.get(k, 0)) for k in type(self).model_fields})


class SourceResult(Model):
    """The outcome of one source in one run."""

    source_id: str
    status: SourceStatus = "pending"
    counts: SourceCounts = SourceCounts()
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds per stage.")
    errors: list[ErrorRecord] = Field(default_factory=list, description="The first few errors.")
    pages: int = 0
    batches: int = 0
    lanes: int = Field(default=0, description="Most batch lanes any page of it ran in (0: none, in its own history).")
    message: str | None = None
    phase: str | None = Field(default=None, description="discover, fetch, chunk, embed, commit or done.")
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunError(ErrorRecord):
    """One of the run's first errors, with the source it came from (no stage: the whole source failed)."""

    source_id: str
    stage: Stage | None = None  # type: ignore[assignment]  # a whole source's failure has no stage


class NotificationRecord(Model):
    """The outcome of one notification channel for one run (never changes the run's result)."""

    channel: str
    ok: bool
    attempts: int = 0
    detail: str | None = None
    at: datetime | None = None


class RunSummary(Model):
    """The run's result: orchestration output, run record body, ``harvest run --json``."""

    run_id: str
    status: RunStatus
    trigger: Trigger
    options: RunOptions = RunOptions()
    requested_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    sources: dict[str, SourceResult] = Field(default_factory=dict)
    totals: SourceCounts = SourceCounts()
    message: str | None = None
    status_url: str | None = Field(default=None, description="The Durable status-query URL (no keys).")
    errors: list[RunError] = Field(default_factory=list, description="The run's first errors, all sources.")
    notifications: list[NotificationRecord] = Field(default_factory=list)
    report: str | None = Field(default=None, description="Blob name of the run's HTML report.")


class DocumentRef(Model):
    """A document as discovery sees it, before its body is fetched."""

    doc_id: str = Field(description="Stable id within the source (relative path, feed guid, URL).")
    url: str = Field(description="Where the document lives (file:// for folder sources).")
    title: str | None = None
    hint: str | None = Field(default=None, description="Cheap change hint: mtime+size, ETag, updated.")
    updated: datetime | None = None
    content: str | None = Field(default=None, description="The body when discovery already has it (feed entry, "
                                "API item, OAI metadata); staged in Blob, never in Durable payloads.")
    content_type: str | None = None


class SourceTask(Message):
    """Input of the source orchestrator (carried across ``continue_as_new``) and of ``begin_source``."""

    run_id: str
    source_id: str
    options: RunOptions = RunOptions()
    batch_size: int = 32
    max_parallel_batches: int = Field(default=1, ge=1, le=64)  # the plan says how many (RunPlan)
    pages_per_execution: int = 20
    failure_threshold: float = 0.5
    errors_kept: int = Field(default=20, ge=1, le=20)
    page: int = 0
    cursor: str | None = None
    since: str | None = None
    started: bool = False
    high_water: str | None = None
    min_failed_hint: str | None = None
    result: SourceResult | None = None


class BatchRef(Message):
    """Where one batch's staged data lives: ``runs/{run_id}/sources/{source_id}/{batch_id}/``."""

    run_id: str
    source_id: str
    batch_id: str
    dry_run: bool = False
    reembed: bool = False
    share: int = Field(default=1, ge=1, le=64, description=(
        "Batches of this page that may fetch at once: a source's rate_limit and concurrency are split "
        "between them, so parallel batches keep the source's own limits."))


class BatchLaneTask(Message):
    """Input of a batch lane (``orchestrators.lanes``): its share of one page's batches, one after another."""

    run_id: str
    source_id: str
    page: int
    lane: int = Field(ge=0)
    refs: list[BatchRef]
    dry_run: bool = False


class LaneOutcome(Model):
    """What a batch lane returns. A lane never fails as an orchestration: the source joins its lanes with
    ``task_all``, which would fail fast while the other lanes still run."""

    result: SourceResult = Field(description="Counts, stage seconds and errors of the lane's batches.")
    min_failed_hint: str | None = None
    failure: str | None = Field(default=None, description="The permanent failure that stopped the lane.")


class DiscoverResult(Model):
    page: int
    batches: list[str] = Field(default_factory=list)
    sizes: list[int] = Field(default_factory=list, description="Documents in each batch (balances batch lanes).")
    discovered: int = 0
    unchanged: int = 0
    deleted_batch: str | None = None
    deleted: int = 0
    deferred: int = 0
    next_cursor: str | None = None
    high_water: str | None = None
    done: bool = True
    seconds: float = 0.0
    errors: list[ErrorRecord] = Field(default_factory=list)


class StageResult(Model):
    """What a stage returns (fetch and chunk inside ``PrepareResult``; embed, commit): counts, timing and
    failures."""

    counts: SourceCounts = SourceCounts()
    items: int = 0
    seconds: float = 0.0
    errors: list[ErrorRecord] = Field(default_factory=list)
    min_failed_hint: str | None = None
    more: bool = Field(default=False, description="embed: the batch has chunks left for the next call.")


class PrepareResult(Model):
    """What the prepare activity returns: its fetch (and extraction) part, and its chunk part when the batch
    had new or changed documents to chunk (``shared.runs.outcome.after_fetch``)."""

    fetch: StageResult
    chunk: StageResult | None = None


class DiscoverInput(Message):
    run_id: str
    source_id: str
    page: int
    cursor: str | None = None
    since: str | None = None
    batch_size: int = 16
    batches_per_page: int = 8
    full_refresh: bool = False
    dry_run: bool = False


class SourceStart(Model):
    """What ``begin_source`` tells the source orchestrator."""

    cursor: str | None = None
    since: str | None = None
    claimed: bool = False


# ---- messages between the orchestrators and their activities (inputs: ``Message``, extra keys refused) --


class SourceLaneTask(Message):
    """Input of a source lane: its share of the run's sources, each run to its end before the next."""

    run_id: str
    lane: int = Field(ge=0)
    tasks: list[SourceTask]


class RunPlan(Message):
    """What ``load_sources`` tells the run orchestrator: the sources and the knobs it may not read itself."""

    sources: list[str]
    message: str | None = None  # why the run has nothing to do, when ``sources`` is empty
    batch_sizes: dict[str, int]
    max_parallel_sources: int = Field(ge=1)
    max_parallel_batches: int = Field(default=1, ge=1)
    pages_per_execution: int = Field(ge=1)
    failure_threshold: float = Field(ge=0, le=1)
    weights: dict[str, float] = Field(default_factory=dict, description=(
        "Each source's last run time in seconds, to balance source lanes (only when there are more sources "
        "than max_parallel_sources)."))
    errors_kept: int = Field(default=20, ge=1, le=20, description=(
        "Errors each source's result keeps, so the run's summary stays bounded whatever the source count."))


class LoadSourcesInput(Message):
    options: RunOptions = RunOptions()
    run_id: str | None = None  # plans from the sources the run was started with (``shared.runs.snapshot``)


class OpenRunInput(Message):
    run: RunInput
    sources: list[str]


class RunRef(Message):
    """Input of the activities that act on a whole run (index, close's followers: publish, notify, retention)."""

    run_id: str


class CloseRunInput(Message):
    summary: RunSummary


class CheckpointInput(Message):
    run_id: str
    source_id: str
    cursor: str | None = None


class FinishSourceInput(Message):
    run_id: str
    result: SourceResult
    high_water: str | None = None
    dry_run: bool = False
    full_refresh: bool = False


class CommitInput(BatchRef):
    deletions: bool = Field(default=False, description="The batch holds vanished documents: write tombstones.")


class CompactSourceInput(Message):
    """One page of a source's compaction: up to ``page_size`` document records from ``continuation``."""

    source_id: str
    keep: int = Field(ge=1)
    continuation: str | None = None
    page_size: int = Field(default=200, ge=1, le=5000)


class CompactResult(Model):
    """What compacting (a page of) a source did; ``continuation`` says where the next page starts."""

    source_id: str
    documents: int = 0
    versions_removed: int = 0
    blobs_deleted: int = 0
    seconds: float = 0.0
    pages: int = 0
    continuation: str | None = None

    def add(self, page: CompactResult) -> CompactResult:
        return self.model_copy(update={
            "documents": self.documents + page.documents, "pages": self.pages + max(1, page.pages),
            "versions_removed": self.versions_removed + page.versions_removed,
            "blobs_deleted": self.blobs_deleted + page.blobs_deleted,
            "seconds": round(self.seconds + page.seconds, 4), "continuation": page.continuation})


class CompactJob(Message):
    """Input of the compaction orchestrator, and of each of its lanes (a lane carries its share of the
    sources and, across ``continue_as_new``, each source's progress)."""

    sources: list[str]
    keep: int = Field(ge=1)
    progress: dict[str, CompactResult | dict[str, str]] = Field(default_factory=dict)
    lanes: int = Field(default=4, ge=1, le=64, description="Sources compacted at once.")


class CompactLaneResult(Model):
    """What a compaction lane returns: per source, its ``CompactResult`` (without the continuation) or
    ``{"error": reason}``. The compaction orchestrator answers the same, with ``keep``."""

    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    keep: int | None = None


class SourceLaneResult(Model):
    """What a source lane returns: each of its sources' result."""

    results: dict[str, SourceResult] = Field(default_factory=dict)


class Done(Model):
    """What an activity that returns nothing answers."""


class ReportWritten(Model):
    """``publish_run``: where the run's HTML report was written (None: there was no record to report on)."""

    report: str | None = None
    bytes: int = 0


class NotificationsSent(Model):
    """``notify_run``: what each channel did; ``error`` when sending failed as a whole (never the run's)."""

    notifications: list[NotificationRecord] = Field(default_factory=list)
    error: str | None = None


class RetentionApplied(Model):
    """``apply_retention``: what the daily run purged (``skipped`` with retention off, ``error`` when it
    failed: it never changes the run's result)."""

    skipped: str | None = None
    error: str | None = None
    cutoff: str | None = None
    runs: list[str] = Field(default_factory=list)
    blobs: int = 0
    idempotency_keys: int = 0
    instances_purged: int = 0


class PublishInput(Message):
    """One call of the publish stage (``shared.index.sync``): bring the search index's copy of one source up to
    the source's live chunks, from ``cursor`` (a ledger shard) on, for at most ``index_max_seconds``."""

    source_id: str
    run_id: str | None = None
    cursor: str | None = None
    dry_run: bool = False


class PublishResult(Model):
    """What a publish call did (counts only; ``cursor`` set: call again from there)."""

    target: str = "none"
    upserted: int = 0
    deleted: int = 0
    failed: int = 0
    unchanged: int = 0  # documents whose chunks the index already had
    other_model: int = 0  # live documents embedded by another model than the index's (not published)
    seconds: float = 0.0
    cursor: str | None = None
    errors: list[ErrorRecord] = Field(default_factory=list)
    switched: str | None = Field(default=None, description="The index readers were switched to, if this call did.")
