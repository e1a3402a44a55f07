"""Source kinds and their registry. Adding a kind = one module, one line in ``SOURCE_KINDS``, tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.auth import inline_secret_problems
from shared.errors import ConfigError
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


def parse_spec(data: dict[str, Any] | SourceSpec, *, where: str = "sources") -> SourceSpec:
    """Validate one manifest entry with its kind's ``Spec``; ``ConfigError`` names each bad field."""
    raw = data.model_dump(exclude_unset=True) if isinstance(data, SourceSpec) else dict(data)
    label = f"{where}.{raw.get('id', '?')}"
    kind = raw.get("kind")
    cls = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(
            "invalid source manifest",
            [{"field": f"{label}.kind", "message": f"unknown kind {kind!r}; one of {sorted(SOURCE_KINDS)}"}],
        )
    secrets = inline_secret_problems(raw, label)
    if secrets:
        raise ConfigError("invalid source manifest", secrets)
    try:
        return cls.Spec.model_validate(raw)  # type: ignore[attr-defined, no-any-return]  # kinds share no base class
    except ValidationError as exc:
        problems = [
            {"field": ".".join([label, *(str(p) for p in err["loc"])]),
             "message": err["msg"].removeprefix("Value error, ")}
            for err in exc.errors()
        ]
        raise ConfigError("invalid source manifest", problems) from None


def build_source(spec: SourceSpec, *, base_dir: Path) -> Source:
    """The source object for ``spec`` (a generic ``SourceSpec`` is re-validated as its kind's Spec)."""
    cls = SOURCE_KINDS.get(spec.kind)
    if cls is None or not isinstance(spec, cls.Spec):  # type: ignore[attr-defined]  # kinds share no base class
        spec = parse_spec(spec)
        cls = SOURCE_KINDS[spec.kind]
    return cls(spec, base_dir=base_dir)  # type: ignore[no-any-return]  # SOURCE_KINDS holds plain types
