"""A DFApp with Harvest's real orchestrators and scripted stand-ins for every activity they call.

The stand-ins go through the real ``activities.guard`` (so a raised ``ClaimHeldError`` or
``TransientError(retry_after=...)`` becomes the same envelope production code returns) and record every
call. Each test sets ``SCRIPT`` to a ``Script`` whose handlers say what each activity does."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from activities.guard import Payload, guarded
from orchestrators import batches, compact, run, source, sources
from shared import names
from shared.models import StageResult
from shared.pipeline.lifecycle import ERROR_BUDGET
from shared.runs.outcome import after_fetch

Handler = Callable[[dict[str, Any]], Any]
ACTIVITIES = (names.LOAD_SOURCES, names.OPEN_RUN, names.BEGIN_SOURCE, names.DISCOVER,
              names.PREPARE, names.EMBED, names.COMMIT, names.CHECKPOINT, names.FINISH_SOURCE, names.CLOSE_RUN,
              names.PUBLISH_RUN, names.NOTIFY_RUN, names.APPLY_RETENTION, names.COMPACT_SOURCE,
              names.PUBLISH_INDEX)


def plan(sources: list[str], *, pages_per_execution: int = 20, failure_threshold: float = 0.5,
         max_parallel_sources: int = 2, max_parallel_batches: int = 1,
         weights: dict[str, float] | None = None) -> dict[str, Any]:
    """``load_sources``'s answer (``shared.pipeline.lifecycle.plan``: errors kept per source by the same rule)."""
    return {"sources": sources, "batch_sizes": dict.fromkeys(sources, 4), "failure_threshold": failure_threshold,
            "max_parallel_sources": max_parallel_sources, "max_parallel_batches": max_parallel_batches,
            "pages_per_execution": pages_per_execution, "weights": weights or {},
            "errors_kept": max(1, min(20, ERROR_BUDGET // max(1, len(sources))))}


def one_page(payload: dict[str, Any]) -> dict[str, Any]:
    """Discovery's default: one page with one batch of one new document."""
    return {"page": payload["page"], "batches": [f"p{payload['page']}-b0"], "discovered": 1, "done": True}


def fetched(payload: dict[str, Any]) -> dict[str, Any]:
    return {"items": 1, "counts": {"added": 1}}


def prepared(fetch: Handler) -> Handler:
    """A prepare stand-in made from a fetch stand-in: it chunks (``{"items": 1}``) when the real rule
    (``shared.runs.outcome.after_fetch``) says the fetch result goes on to chunking."""

    def handle(payload: dict[str, Any]) -> dict[str, Any]:
        out = fetch(payload)
        go_on = after_fetch(StageResult.model_validate(out), dry_run=payload.get("dry_run", False)) == "continue"
        return {"fetch": out, "chunk": {"items": 1}} if go_on else {"fetch": out}

    return handle


DEFAULTS: dict[str, Handler] = {
    names.LOAD_SOURCES: lambda p: plan(["a"]),
    names.OPEN_RUN: lambda p: {"run_id": p["run"]["run_id"], "status": "running", "trigger": p["run"]["trigger"],
                               "status_url": f"http://status/{p['run']['run_id']}"},
    names.BEGIN_SOURCE: lambda p: {"cursor": None, "since": None, "claimed": True},
    names.DISCOVER: one_page,
    names.PREPARE: prepared(fetched),
    names.EMBED: lambda p: {"items": 1, "counts": {"chunks_embedded": 1}},
    names.COMMIT: lambda p: {"items": 1},
    names.CHECKPOINT: lambda p: {},
    names.FINISH_SOURCE: lambda p: {},
    names.CLOSE_RUN: lambda p: p["summary"],
    names.PUBLISH_RUN: lambda p: {"report": f"runs/{p['run_id']}/report.html"},
    names.NOTIFY_RUN: lambda p: {"notifications": [{"channel": "webhook", "ok": True}]},
    names.APPLY_RETENTION: lambda p: {"skipped": "test"},
    names.COMPACT_SOURCE: lambda p: {"source_id": p["source_id"], "documents": 1},
    names.PUBLISH_INDEX: lambda p: {"target": "stub", "upserted": 1},
}


@dataclass
class Script:
    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, name: str, payload: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append((name, payload))
        return self.handlers.get(name, DEFAULTS[name])(payload)

    def called(self, name: str) -> list[dict[str, Any]]:
        return [p for n, p in self.calls if n == name]

    def names(self, source_id: str | None = None) -> list[str]:
        return [n for n, p in self.calls if source_id is None or p.get("source_id") == source_id]


SCRIPT = Script()


def stand_in(name: str) -> Callable[[Payload], Any]:
    async def activity(payload: Payload) -> Any:
        result = SCRIPT.handle(name, payload)
        return (await result) if inspect.isawaitable(result) else result

    activity.__name__ = f"{name}_stand_in"
    return guarded(activity)


def create_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
    for blueprint in (run.bp, sources.bp, source.bp, batches.bp, compact.bp):
        app.register_functions(blueprint)
    for name in ACTIVITIES:
        app.function_name(name)(app.activity_trigger(input_name="payload")(stand_in(name)))
    return app
