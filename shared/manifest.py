"""The source manifest (``sources.yaml``): load, validate, and report every problem with its field.

```yaml
sources:
  - id: samples            # unique, lowercase
    kind: folder           # a key of shared.sources.SOURCE_KINDS
    path: samples/docs     # the kind's own fields; paths are relative to this file
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from shared.auth import inline_secret_problems, setting_names
from shared.errors import ConfigError
from shared.manifest_yaml import id_hint, read_yaml
from shared.sources import SOURCE_KINDS
from shared.sources.base import SourceSpec


@dataclass(frozen=True)
class Manifest:
    path: Path
    sources: list[SourceSpec]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def get(self, source_id: str) -> SourceSpec:
        for spec in self.sources:
            if spec.id == source_id:
                return spec
        raise KeyError(source_id)

    def ids(self) -> list[str]:
        return [spec.id for spec in self.sources]

    def select(self, wanted: list[str] | None) -> list[SourceSpec]:
        """The enabled sources, or exactly ``wanted`` (enabled or not) when given."""
        if wanted is None:
            return [spec for spec in self.sources if spec.enabled]
        unknown = [s for s in wanted if s not in self.ids()]
        if unknown:
            raise ConfigError(
                "unknown source ids",
                [{"field": "sources", "message": f"unknown source id {s!r}"} for s in unknown],
            )
        return [spec for spec in self.sources if spec.id in wanted]


def parse_manifest(data: Any, *, path: Path, raw_ids: dict[int, str] | None = None) -> Manifest:
    """Validate already-parsed YAML; raise ``ConfigError`` listing every bad source and field.
    ``raw_ids`` (index → YAML text) names the ids YAML turned into another type, for a quoting hint."""
    where = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        raise ConfigError(f"{where}: invalid manifest", [{"field": "sources", "message": "must be a list"}])
    problems: list[dict[str, str]] = []
    specs: list[SourceSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(data["sources"]):
        label = f"sources[{index}]"
        if not isinstance(entry, dict):
            problems.append({"field": label, "message": "must be a mapping"})
            continue
        if isinstance(entry.get("id"), str):
            label = f"sources[{index}] ({entry['id']})"
            if entry["id"] in seen:
                problems.append({"field": f"{label}.id", "message": f"duplicate source id {entry['id']!r}"})
            seen.add(entry["id"])
        if index in (raw_ids or {}) and not isinstance(entry.get("id"), str):
            problems.append({"field": f"{label}.id", "message": id_hint((raw_ids or {})[index], entry.get("id"))})
            continue
        kind = entry.get("kind")
        # a kind's class: its ``Spec`` model and whether discovery ``lists_everything`` (no common base class)
        cls: Any = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            known = ", ".join(sorted(SOURCE_KINDS))
            problems.append({"field": f"{label}.kind", "message": f"unknown kind {kind!r} (known: {known})"})
            continue
        secrets = inline_secret_problems(entry, label)
        if secrets:
            problems += secrets
            continue
        try:
            spec = cls.Spec.model_validate(entry)
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                problems.append({"field": f"{label}.{loc}" if loc else label,
                                 "message": err["msg"].removeprefix("Value error, ")})
            continue
        sees_deletions = cls.lists_everything or getattr(cls, "reports_deletions", False)
        if "detect_deletions" in entry and spec.detect_deletions and not sees_deletions:
            problems.append({"field": f"{label}.detect_deletions",
                             "message": f"a {kind} source cannot see deletions; remove this field or set it false"})
            continue
        specs.append(spec)
    if problems:
        raise ConfigError(f"{where}: invalid manifest", problems)
    return Manifest(path=path, sources=specs)


def load_manifest(path: Path) -> Manifest:
    data, raw_ids = read_yaml(path)
    return parse_manifest(data, path=path.resolve(), raw_ids=raw_ids)


def build_problems(manifest: Manifest) -> list[dict[str, str]]:
    """Problems only building the sources finds (a folder that does not exist), for ``sources validate``.
    Not part of loading: one missing folder fails its own source at run time, not every run."""
    from shared.sources import build_source

    problems: list[dict[str, str]] = []
    for spec in manifest.sources:
        try:
            build_source(spec, base_dir=manifest.base_dir)
        except ConfigError as exc:
            problems += exc.problems or [{"field": f"sources.{spec.id}", "message": str(exc)}]
    return problems


def describe_sources(manifest: Manifest, *, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The configured sources as JSON-ready dicts, for ``GET /api/sources`` and ``harvest sources``.

    Secrets are never in a manifest (only the *names* of the app settings holding them), so nothing
    here is a secret; each source also says which settings it needs and whether they are set —
    never their values.
    """
    env = os.environ if environ is None else environ
    described = []
    for spec in manifest.sources:
        fields = spec.model_dump(mode="json", exclude_none=True)
        names = setting_names(spec)
        described.append({**fields, "settings": {name: bool(env.get(name)) for name in names}})
    return described
