"""What a run would refuse that the manifest's schema cannot see, for ``harvest sources validate``: a folder
that does not exist (building the source finds it), and an address the outbound guard refuses
(``shared.fetching.http``: private, loopback and link-local addresses unless ``HARVEST_ALLOWED_PRIVATE_NETWORKS``
allows them). Problems use the manifest's own labels (``sources[2] (notes).path``).

Not part of loading a manifest for a run: one missing folder fails its own source at run time, not every
run. Host names are not resolved here (that needs the network and may change before the run): the guard
checks the addresses they resolve to when the run connects; IP literals and ``localhost`` are checked."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.errors import ConfigError
from shared.fetching.http import allowed
from shared.sources.web import HttpSourceSpec

if TYPE_CHECKING:
    from shared.config.manifest import Manifest
    from shared.sources.base import SourceSpec

ALLOWED_SETTING = "HARVEST_ALLOWED_PRIVATE_NETWORKS"
LOOPBACK_NAMES = ("127.0.0.1", "::1")


def build_problems(manifest: Manifest, labels: Mapping[str, str]) -> list[dict[str, str]]:
    """Building each source: a folder that does not exist, or a path the OS refuses."""
    from shared.sources import build_source

    problems: list[dict[str, str]] = []
    for spec in manifest.sources:
        label = labels.get(spec.id, f"sources ({spec.id})")
        try:
            build_source(spec, base_dir=manifest.base_dir)
        except ConfigError as exc:
            for problem in exc.problems or [{"field": f"sources.{spec.id}", "message": str(exc)}]:
                field = problem["field"].removeprefix(f"sources.{spec.id}")
                problems.append({"field": f"{label}{field}", "message": problem["message"]})
        except (OSError, ValueError) as exc:
            problems.append({"field": label, "message": f"cannot be opened: {exc}"})
    return problems


def _hosts(url: str) -> list[str]:
    """The addresses to check for ``url``: its IP literal, or loopback for ``localhost``; none for a name."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):  # RFC 6761: always loopback
        return list(LOOPBACK_NAMES)
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return []
    return [host]


def _urls(spec: SourceSpec) -> list[tuple[str, str]]:
    """``(field, url)`` of every address a run of this source connects to that the manifest names."""
    if not isinstance(spec, HttpSourceSpec):
        return []  # the blob kind: the operator's own storage account (private endpoints by design)
    found = [("url", url)] if isinstance(url := getattr(spec, "url", None), str) else []
    token_url = getattr(spec.auth, "token_url", None)
    if isinstance(token_url, str):
        found.append(("auth.token_url", token_url))
    return found


def address_problems(manifest: Manifest, labels: Mapping[str, str],
                     environ: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    """URLs whose address the run's outbound guard refuses, with the setting that would allow them."""
    env = os.environ if environ is None else environ
    networks = [n.strip() for n in env.get(ALLOWED_SETTING, "").split(",") if n.strip()]
    try:
        allowed("127.0.0.1", networks)  # parses the CIDRs once: a bad one is its own problem
    except ConfigError as exc:
        return exc.problems
    problems: list[dict[str, str]] = []
    for spec in manifest.sources:
        label = labels.get(spec.id, f"sources ({spec.id})")
        for field, url in _urls(spec):
            refused = [ip for ip in _hosts(url) if not allowed(ip, networks)]
            if refused and len(refused) == len(_hosts(url)):
                cidr = f"{refused[0]}/32" if ":" not in refused[0] else f"{refused[0]}/128"
                problems.append({"field": f"{label}.{field}", "message": (
                    f"{refused[0]} is a private or loopback address: the run refuses it unless the app setting "
                    f"{ALLOWED_SETTING} allows it (e.g. {ALLOWED_SETTING}={cidr})")})
    return problems


def run_problems(manifest: Manifest, labels: Mapping[str, str],
                 environ: Mapping[str, str] | None = None) -> list[dict[str, str]]:
    return build_problems(manifest, labels) + address_problems(manifest, labels, environ)
