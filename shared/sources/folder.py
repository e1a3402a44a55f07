"""``folder``: files under a directory next to the manifest (recursive, include/exclude globs).

Discovery lists every matching file in sorted relative-POSIX-path order; the cursor is the last path
of the previous page, so resuming after files were added or removed neither skips nor repeats. Files
whose real path (after symlinks) leaves the folder root are ignored, and never read.

A file name that is not valid UTF-8 (Linux allows any bytes but ``/`` and NUL) cannot be a document id, a
cursor or a blob name, which are text. Such a file is listed under its name with the undecodable bytes
written ``\\xNN`` (``backslashreplace``), and fetching it fails that one document, saying to rename the file:
the rest of the folder is ingested (a single such name used to fail discovery, and the whole source, with a
``UnicodeEncodeError``). A valid name that happens to spell another's ``\\xNN`` form wins over it.

Glob matching is hand-written (``_glob_regex``) because Python 3.11's ``PurePath.match`` cannot make
``**/`` match zero directories (``**/*.md`` must match ``a.md``) and ``glob.translate`` is 3.13+.
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from shared.errors import ConfigError, PermanentError
from shared.fetching.http import HttpClient
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched, SourceSpec

_ESCAPED_BYTE = re.compile(rb"\\x([0-9a-f]{2})")
DEFAULT_INCLUDE = ["**/*.md", "**/*.markdown", "**/*.txt", "**/*.html", "**/*.htm", "**/*.pdf"]


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def as_text(rel: str) -> str:
    """``rel`` as text: itself, or, when it holds undecodable bytes (``os.fsdecode``'s surrogates), with those
    bytes written ``\\xNN``."""
    try:
        rel.encode("utf-8")
        return rel
    except UnicodeEncodeError:
        return os.fsencode(rel).decode("utf-8", "backslashreplace")


def from_text(text: str) -> str:
    """The file name :func:`as_text` wrote ``text`` for (``\\xNN`` back to bytes)."""
    return os.fsdecode(_ESCAPED_BYTE.sub(lambda m: bytes([int(m[1], 16)]), text.encode("utf-8")))


def glob_match(path: str, pattern: str) -> bool:
    """Does the relative POSIX ``path`` match ``pattern`` (``*``, ``?``, ``**/``; case-insensitive)?"""
    return _glob_regex(pattern).match(path) is not None


class FolderSpec(SourceSpec):
    kind: Literal["folder"] = "folder"
    path: str
    include: list[str] = list(DEFAULT_INCLUDE)
    exclude: list[str] = []


class FolderSource:
    Spec = FolderSpec
    lists_everything = True

    def __init__(self, spec: FolderSpec, *, base_dir: Path) -> None:
        self.spec = spec
        self.root = (base_dir / spec.path).resolve()
        if not self.root.is_dir():
            raise ConfigError(
                f"source {spec.id!r}: folder not found",
                [{"field": f"sources.{spec.id}.path", "message": f"{self.root} is not a directory"}],
            )

    def _inside(self, path: Path) -> Path | None:
        real = path.resolve()
        return real if real == self.root or self.root in real.parents else None

    def _wanted(self, rel: str) -> bool:
        return any(glob_match(rel, p) for p in self.spec.include) and not any(
            glob_match(rel, p) for p in self.spec.exclude
        )

    def list_paths(self) -> list[str]:
        """Every matching file, as sorted relative POSIX paths (as text: :func:`as_text`)."""
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if self._inside(Path(dirpath, d)) is not None]
            for name in filenames:
                full = Path(dirpath, name)
                rel = full.relative_to(self.root).as_posix()
                if self._wanted(rel) and (real := self._inside(full)) is not None and real.is_file():
                    found.append(as_text(rel))
        return sorted(set(found))  # a UTF-8 name that spells another's \xNN form is listed (and read) once

    def _path(self, rel: str) -> Path:
        """The file listed as ``rel``: by that name, or by the undecodable one :func:`as_text` wrote as ``rel``."""
        path = self.root / rel
        if not path.exists() and (original := self.root / from_text(rel)).exists():
            return original
        return path

    def _ref(self, rel: str) -> DocumentRef | None:
        path = self._path(rel)
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return DocumentRef(
            doc_id=rel,
            url=path.as_uri(),
            hint=f"{st.st_mtime_ns}:{st.st_size}",
            updated=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
        )

    def _page(self, cursor: str | None, page_size: int) -> DiscoveryPage:
        paths = self.list_paths()
        if cursor is not None:
            paths = [p for p in paths if p > cursor]
        chosen = paths[:page_size]
        items = [ref for rel in chosen if (ref := self._ref(rel)) is not None]
        newest = max((ref.updated for ref in items if ref.updated), default=None)
        return DiscoveryPage(
            items=items,
            next_cursor=chosen[-1] if len(paths) > page_size else None,
            high_water=newest.isoformat() if newest else None,
        )

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient | None = None
    ) -> DiscoveryPage:
        """One page of files. ``since`` is ignored: every run lists everything (deletions detectable)."""
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        return await asyncio.to_thread(self._page, cursor, page_size)

    def _read(self, rel: str) -> bytes:
        path = self.root / rel
        if self._path(rel) != path:
            raise PermanentError(f"{rel}: the file name is not valid UTF-8 (shown with \\xNN for its undecodable "
                                 "bytes): rename the file to ingest it")
        real = self._inside(path)
        if real is None:
            raise PermanentError(f"{rel}: path leaves the folder {self.root}")
        try:
            return real.read_bytes()
        except FileNotFoundError:
            raise PermanentError(f"{rel}: file no longer exists") from None
        except IsADirectoryError:
            raise PermanentError(f"{rel}: is a directory") from None

    async def fetch(self, ref: DocumentRef, *, http: HttpClient | None = None, known: str | None = None) -> Fetched:
        data = await asyncio.to_thread(self._read, ref.doc_id)
        return Fetched(data=data, content_type=None, url=(self.root / ref.doc_id).as_uri(), title=ref.title)
