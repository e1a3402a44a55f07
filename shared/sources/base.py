"""What every source kind provides: a manifest spec, paged discovery and fetching one document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from shared.fetching.http import HttpClient
from shared.models import DocumentRef
from shared.names import SOURCE_ID


@dataclass
class DiscoveryPage:
    items: list[DocumentRef]
    next_cursor: str | None  # None when discovery is done
    high_water: str | None = None  # newest change marker seen (ISO time for rss), for the checkpoint
    deleted: list[DocumentRef] = field(default_factory=list)  # deletions the source reports (OAI-PMH)


@dataclass
class Fetched:
    data: bytes
    content_type: str | None
    url: str
    title: str | None = None
    not_modified: bool = False  # a conditional GET answered 304: the body is the one recorded before
    hint: str | None = None  # change hint learned while fetching (HTTP validators), used when discovery had none


class SourceSpec(BaseModel):
    """Manifest fields common to every source; each kind's ``Spec`` subclasses this."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=SOURCE_ID.pattern)
    kind: str
    enabled: bool = True
    title: str | None = None
    batch_size: int | None = Field(default=None, ge=1, le=500)
    min_chars: int = Field(default=20, ge=0, le=1_000_000, description="Shorter extracted text is skipped.")
    languages: list[str] | None = Field(
        default=None, min_length=1, description="ISO 639-1 codes; text in another language is skipped."
    )
    skip_duplicates: bool = Field(default=True, description="Skip a new document whose text another has.")
    detect_deletions: bool = Field(
        default=True,
        description="Tombstone documents that vanished from the source. Only kinds whose discovery lists "
        "every live document can (folder); for the others it must stay unset or false.",
    )


@runtime_checkable
class Source(Protocol):
    spec: SourceSpec
    lists_everything: bool
    """True if discovery sees every live document each run, so vanished documents can be tombstoned."""

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage: ...

    async def fetch(self, ref: DocumentRef, *, http: HttpClient, known: str | None = None) -> Fetched:
        """The document's bytes. ``known`` is the change hint recorded with its current version (for a
        conditional GET); a ``SkippedError`` leaves it out, a ``PermanentError`` fails it."""
        ...
