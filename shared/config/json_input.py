"""JSON from outside (request bodies), read strictly: bounded nesting, no duplicate names, Unicode text only.

- Nesting: ``json.loads`` recurses once per level and raises ``RecursionError`` — not ``ValueError`` — past
  about 1,000 levels (a 20,000-level body to ``POST /api/runs`` was a 500 with an empty body); a body just
  under that passes the parser and recurses again in whatever walks it. The limit is Json.NET's ``MaxDepth``
  (64, ``JsonSerializerSettings``' default since Newtonsoft.Json 13.0.1), which the Durable extension applies
  to the bodies it reads; Harvest's own bodies are two levels deep.
- Duplicate names: RFC 8259 §4 leaves them to the parser, and Python keeps the last, so
  ``{"sources": ["a"], "sources": ["b"]}`` silently meant ``["b"]``. Refused, naming the member.
- Unpaired surrogates (``"\\ud800"``): valid JSON escapes, but not Unicode text (RFC 7493, I-JSON §2.1);
  such a string cannot be encoded as UTF-8 later (a suspend reason holding one was a ``UnicodeEncodeError``,
  500, in the Durable client's URL quoting). Refused.

``loads`` raises ``ValueError`` for each, with a message fit for a client.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class TooDeep(ValueError):
    """The JSON nests deeper than allowed."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"duplicate member {name[:60]!r}")
        out[name] = value
    return out


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a string holds an unpaired surrogate (\\ud800-\\udfff): not Unicode text") from None


def _check(value: Any, limit: int) -> None:
    """Depth and text of parsed JSON, iteratively (any depth is safe to ask about)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if isinstance(item, dict):
            for name in item:
                _check_text(name)
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise TooDeep(f"JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | str))


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that raises ``ValueError`` for what is not JSON (``UnicodeDecodeError`` included), for
    JSON nested deeper than ``max_depth`` (``TooDeep``), for duplicate member names and for unpaired
    surrogates."""
    try:
        value = json.loads(raw, object_pairs_hook=_object)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels") from None
    _check(value, max_depth)
    return value
