"""Error types shared by every stage.

``TransientError`` means "try again later" (timeouts, 429, 5xx, storage hiccups): activities let it
propagate so the Durable retry policy re-runs them. ``PermanentError`` means "this input will never
work" (404, unparseable content): it becomes a failure record for one document and never fails a
source or a run. ``ConfigError`` is bad configuration (manifest, settings) reported with field names.
"""

from __future__ import annotations


class HarvestError(Exception):
    """Base of all Harvest errors."""


class TransientError(HarvestError):
    """A failure that may succeed when retried."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(HarvestError):
    """A failure that will not succeed when retried (for one document)."""


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
    """Another writer holds what we need (a running run, a source lease)."""


class CorruptBlobError(PermanentError):
    """A stored blob cannot be read (not JSON, not the expected shape). Named, and never retried: reading
    the same bytes again gives the same answer. ``etag`` lets a caller replace exactly what it read."""

    def __init__(self, blob: str, detail: str, *, etag: str | None = None, fix: str | None = None) -> None:
        super().__init__(f"{blob}: unreadable ({detail})" + (f"; {fix}" if fix else ""))
        self.blob = blob
        self.detail = detail
        self.etag = etag
