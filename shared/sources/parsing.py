"""Parsing helpers the source kinds share: times, safe XML, gzip, dotted JSON paths, URL patterns."""

from __future__ import annotations

import email.utils
import re
import zlib
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from shared.errors import PermanentError

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (``Z``, offsets, date only), RFC 2822 dates or epoch seconds → an aware UTC datetime."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value) / (1000 if value > 1e11 else 1), tz=UTC)
    text = str(value).strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def gunzip(data: bytes, limit: int) -> bytes:
    """``data`` itself, or its gzip-decompressed content (at most ``limit`` bytes: no gzip bombs)."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PermanentError(f"corrupt gzip data: {exc}") from None
    if len(out) > limit:
        raise PermanentError(f"decompressed body larger than {limit} bytes")
    return out


def parse_xml(data: bytes, what: str) -> etree._Element:
    """Parse untrusted XML (no entities, DTDs or network); ``PermanentError`` when malformed."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise PermanentError(f"malformed {what}: {exc}") from None
    if root is None:
        raise PermanentError(f"malformed {what}: empty document")
    return root


def local(tag: Any) -> str:
    """The local name of an lxml tag (``{ns}name`` → ``name``)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if local(child.tag) == name]


def child_text(element: etree._Element, name: str) -> str | None:
    for child in element:
        if local(child.tag) == name:
            text = (child.text or "").strip()
            return text or None
    return None


def dig(data: Any, path: str | None) -> Any:
    """The value at a dotted path (``data.items``, ``links.0.href``); ``""`` is ``data`` itself."""
    if path is None:
        return None
    current = data
    for part in [p for p in path.split(".") if p]:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def compile_patterns(patterns: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(p) for p in patterns]


def check_patterns(patterns: list[str]) -> list[str]:
    """A pydantic validator body: every pattern must be a valid regular expression."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return patterns
