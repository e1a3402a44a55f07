"""The source manifest (``sources.yaml``): load, validate, and report every problem with its field.

```yaml
sources:
  - id: samples            # unique, lowercase
    kind: folder           # a key of shared.sources.SOURCE_KINDS
    path: samples/docs     # the kind's own fields; a relative path is relative to this file's folder
```
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config.manifest_yaml import id_hint, read_yaml
from shared.config.messages import nul_problems, top_level_problems
from shared.errors import ConfigError
from shared.fetching.auth import setting_names
from shared.sources import SOURCE_KINDS, check_spec
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


def parse_manifest(data: Any, *, path: Path, raw_ids: dict[int, str] | None = None,
                   check_build: bool = False, environ: Mapping[str, str] | None = None) -> Manifest:
    """Validate already-parsed YAML; raise ``ConfigError`` listing every problem of every source at once.
    ``raw_ids`` (index → YAML text) names the ids YAML turned into another type, for a quoting hint.
    ``check_build`` adds what only building the sources finds and what a run would refuse (a folder that
    does not exist, an address the outbound guard refuses: ``shared.config.manifest_checks``), in the same format."""
    where = str(path)
    if not isinstance(data, dict):
        shown = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(f"{where}: invalid manifest", [{"field": "sources", "message": (
            f"the file is {shown}: a manifest is `sources:` followed by a list of sources")}])
    problems = top_level_problems(data)
    if "sources" not in data or not isinstance(data["sources"], list):
        raise ConfigError(f"{where}: invalid manifest", problems)
    specs: list[SourceSpec] = []
    labels: dict[str, str] = {}
    seen: set[str] = set()
    for index, entry in enumerate(data["sources"]):
        label = f"sources[{index}]"
        if not isinstance(entry, dict):
            problems.append({"field": label, "message": "must be a mapping (id: ..., kind: ..., ...)"})
            continue
        if isinstance(entry.get("id"), str):
            label = f"sources[{index}] ({entry['id']})"
            if entry["id"] in seen:
                problems.append({"field": f"{label}.id", "message": f"duplicate source id {entry['id']!r}"})
            seen.add(entry["id"])
        if index in (raw_ids or {}) and not isinstance(entry.get("id"), str):
            problems.append({"field": f"{label}.id", "message": id_hint((raw_ids or {})[index], entry.get("id"))})
            continue
        if nul := nul_problems(entry, label):
            problems += nul
            continue
        spec, found = check_spec(entry, label)
        if spec is None:
            problems += found
            continue
        cls: Any = SOURCE_KINDS[spec.kind]  # its ``lists_everything`` (kinds share no base class)
        sees_deletions = cls.lists_everything or getattr(cls, "reports_deletions", False)
        if "detect_deletions" in entry and spec.detect_deletions and not sees_deletions:
            problems.append({"field": f"{label}.detect_deletions", "message": (
                f"a {spec.kind} source cannot see deletions; remove this field or set it false")})
            continue
        specs.append(spec)
        labels[spec.id] = label
    manifest = Manifest(path=path, sources=specs)
    if check_build:
        from shared.config.manifest_checks import run_problems

        problems += run_problems(manifest, labels, environ=environ)
    if problems:
        raise ConfigError(f"{where}: invalid manifest", problems)
    return manifest


def load_manifest(path: Path, *, check_build: bool = False, environ: Mapping[str, str] | None = None) -> Manifest:
    """The manifest at ``path``, validated (``parse_manifest``); ``ConfigError`` naming the file otherwise."""
    data, raw_ids = read_yaml(path)
    return parse_manifest(data, path=path.resolve(), raw_ids=raw_ids, check_build=check_build, environ=environ)


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
