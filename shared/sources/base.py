"""What every source kind provides: a manifest spec, paged discovery and fetching one document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from shared.http import HttpClient
from shared.models import DocumentRef


@dataclass
class DiscoveryPage:
    items: list[DocumentRef]
    next_cursor: str | None  # None when discovery is done
    high_water: str | None = None  # newest change marker seen (ISO time for rss), for the checkpoint


@dataclass
class Fetched:
    data: bytes
    content_type: str | None
    url: str
    title: str | None = None


class SourceSpec(BaseModel):
    """Manifest fields common to every source; each kind's ``Spec`` subclasses this."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    kind: str
    enabled: bool = True
    title: str | None = None
    batch_size: int | None = Field(default=None, ge=1, le=500)


@runtime_checkable
class Source(Protocol):
    spec: SourceSpec
    lists_everything: bool
    """True if discovery sees every live document each run, so vanished documents can be tombstoned."""

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage: ...

    async def fetch(self, ref: DocumentRef, *, http: HttpClient) -> Fetched: ...
