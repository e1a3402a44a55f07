"""Media-type matching for the content types a request accepts (``text/html``, ``text/*``, ``*/*+xml``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.errors import PermanentError


def type_matches(content_type: str | None, patterns: Sequence[str]) -> bool:
    """Does the media type of ``content_type`` match one of ``patterns`` (``text/html``, ``text/*``,
    ``*/*``, or a ``+xml``/``+json`` suffix written as ``*/*+xml``)? A missing type matches."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not media:
        return True
    major, _, minor = media.partition("/")
    for pattern in patterns:
        p_major, _, p_minor = pattern.strip().lower().partition("/")
        if p_minor.startswith("*+"):
            if minor.endswith(p_minor[1:]) and p_major in ("*", major):
                return True
        elif p_major in ("*", major) and p_minor in ("*", minor):
            return True
    return False


def check_type(resp: Any, url: str, accept: Sequence[str] | None) -> None:
    if accept and not type_matches(resp.headers.get("Content-Type"), accept):
        media = resp.headers.get("Content-Type", "").split(";", 1)[0].strip()
        raise PermanentError(f"content type {media} not accepted for {url} (accepted: {', '.join(accept)})")
