"""Source kinds and their registry. Adding a kind = one module, one line in ``SOURCE_KINDS``, tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.config.messages import field_problems
from shared.errors import ConfigError
from shared.fetching.auth import inline_secret_problems
from shared.sources.base import DiscoveryPage, Fetched, Source, SourceSpec
from shared.sources.blob import BlobSource
from shared.sources.folder import FolderSource
from shared.sources.json_api import JsonApiSource
from shared.sources.oai_pmh import OaiPmhSource
from shared.sources.rss import RssSource
from shared.sources.sitemap import SitemapSource

__all__ = [
    "SOURCE_KINDS",
    "DiscoveryPage",
    "Fetched",
    "Source",
    "SourceSpec",
    "build_source",
    "check_spec",
    "parse_spec",
]

SOURCE_KINDS: dict[str, type] = {
    "folder": FolderSource,
    "rss": RssSource,
    "oai_pmh": OaiPmhSource,
    "sitemap": SitemapSource,
    "json_api": JsonApiSource,
    "blob": BlobSource,
}


def check_spec(entry: dict[str, Any], label: str) -> tuple[SourceSpec | None, list[dict[str, str]]]:
    """One manifest entry validated with its kind's ``Spec``, or why it is not one: its problems, each naming
    its field under ``label`` (an unknown kind, a secret written inline, a bad or unknown field)."""
    kind = entry.get("kind")
    cls = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        message = "is required" if kind is None else f"unknown kind {kind!r}"
        return None, [{"field": f"{label}.kind", "message": f"{message} (one of: {', '.join(sorted(SOURCE_KINDS))})"}]
    if secrets := inline_secret_problems(entry, label):
        return None, secrets
    try:
        return cls.Spec.model_validate(entry), []  # type: ignore[attr-defined]  # kinds share no base class
    except ValidationError as exc:
        return None, field_problems(exc, label, fields=cls.Spec.model_fields)  # type: ignore[attr-defined]


def parse_spec(data: dict[str, Any] | SourceSpec, *, where: str = "sources") -> SourceSpec:
    """Validate one manifest entry with its kind's ``Spec``; ``ConfigError`` names each bad field."""
    raw = data.model_dump(exclude_unset=True) if isinstance(data, SourceSpec) else dict(data)
    spec, problems = check_spec(raw, f"{where}.{raw.get('id', '?')}")
    if spec is None:
        raise ConfigError("invalid source manifest", problems)
    return spec


def build_source(spec: SourceSpec, *, base_dir: Path) -> Source:
    """The source object for ``spec`` (a generic ``SourceSpec`` is re-validated as its kind's Spec)."""
    cls = SOURCE_KINDS.get(spec.kind)
    if cls is None or not isinstance(spec, cls.Spec):  # type: ignore[attr-defined]  # kinds share no base class
        spec = parse_spec(spec)
        cls = SOURCE_KINDS[spec.kind]
    return cls(spec, base_dir=base_dir)  # type: ignore[no-any-return]  # SOURCE_KINDS holds plain types
