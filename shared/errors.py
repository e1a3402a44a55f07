"""Error types shared by every stage, and what each means at the activity/orchestrator boundary.

Inside a stage, a ``PermanentError`` for one document (404, unparseable content) becomes a failure
record for that document and never fails a source or a run; a ``TransientError`` for one document
becomes a failure record marked ``transient`` (a later run may succeed).

When an error escapes an activity, ``shared.failure_policy.classify`` decides, in one place, what the
orchestrator sees (``activities.guard`` applies it; ``shared.envelope`` is the wire format):

- permanent → the activity returns a ``failed`` envelope with the reason and the orchestrator fails the
  source (or the run) at once, without retrying: ``PermanentError``, ``ConfigError`` (including storage
  refusing the credentials: 401/403), ``ClaimHeldError`` (another run holds the source), an input that
  does not validate (a mistyped or missing field, named in the reason), staged data written by a newer
  schema version, any other 4xx from storage;
- transient with a server-given wait (``TransientError(retry_after=...)``, a 429/503 with
  ``Retry-After``) → the activity returns a ``retry`` envelope and the orchestrator waits on a durable
  timer before calling again (bounded);
- transient without a wait (``TransientError``, ``WriteContentionError``, 5xx, timeouts, connection
  errors) and anything unexpected → the activity raises, and the Durable retry policy
  (``orchestrators.calls.ACTIVITY_RETRY``) retries it with backoff.
"""

from __future__ import annotations

import re


class HarvestError(Exception):
    """Base of all Harvest errors."""


class TransientError(HarvestError):
    """A failure that may succeed when retried (``retry_after``: seconds the server asked us to wait)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(HarvestError):
    """A failure that will not succeed when retried (for one document, or for the whole activity)."""


class SkippedError(PermanentError):
    """A document deliberately left out (empty or too short, wrong language, duplicate, robots.txt):
    counted per ``reason`` as skipped, not as a failure."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ConfigError(HarvestError):
    """Invalid configuration; ``problems`` holds one ``{"field", "message"}`` dict per problem."""

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        lines = [super().__str__()]
        lines += [f"  - {p['field']}: {p['message']}" for p in self.problems]
        return "\n".join(lines)


class ConflictError(HarvestError):
    """Another writer holds what we need. Use one of the two subclasses: they are handled differently."""


class ClaimHeldError(ConflictError, PermanentError):
    """Another run holds this source's claim: retrying within this run cannot help (permanent)."""


class WriteContentionError(ConflictError, TransientError):
    """An ETag-conditional write kept losing to other writers (412/409): a later attempt may win."""


class StagedSchemaError(PermanentError):
    """Staged batch data was written by a newer Harvest than the one reading it (a resumed run after a
    downgrade): the rows cannot be read safely, so the batch fails instead of being misread."""


class CorruptBlobError(PermanentError):
    """A stored blob cannot be read (not JSON, not the expected shape). Named, and never retried: reading
    the same bytes again gives the same answer. ``etag`` lets a caller replace exactly what it read."""

    def __init__(self, blob: str, detail: str, *, etag: str | None = None, fix: str | None = None) -> None:
        super().__init__(f"{blob}: unreadable ({detail})" + (f"; {fix}" if fix else ""))
        self.blob = blob
        self.detail = detail
        self.etag = etag


# Where the stack trace starts in a failure's text: the Durable SDK raises Exception(f"{Reason} \n {Details}")
# (Details is the stack), and the Python worker's own reasons carry "Stack:" / "Traceback" parts.
_STACK = re.compile(r" \n |\n\s*Stack:|Traceback \(most recent call last\)")
# The host's wording of a failed activity: "Activity function 'discover' failed: TransientError: <reason>"
_ACTIVITY_FAILED = re.compile(r"^Activity function '(?P<stage>\w+)' failed: (?:(?:\w+\.)*\w*(?:Error|Exception): )?")


def failure_reason(failure: BaseException | str, limit: int | None = 500) -> str:
    """The reason of a failed activity or sub-orchestration on one line, in words: without the stack trace
    (that stays in the host's log) and without the host's and Python's wrapping (``discover: cannot reach
    ...`` rather than ``Activity function 'discover' failed: TransientError: cannot reach ...``). What run
    records, the API, reports and the CLI show; cut at ``limit`` characters (``None``: not cut)."""
    text = " ".join(_STACK.split(str(failure), maxsplit=1)[0].split())
    if match := _ACTIVITY_FAILED.match(text):
        text = f"{match['stage']}: {text[match.end():]}"
    return text[:limit] or type(failure).__name__
