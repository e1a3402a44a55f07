"""Reading a manifest's YAML safely and in bounded time and memory.

- The file must be a regular file of at most ``MAX_BYTES`` (a FIFO blocked the CLI for good, ``/dev/zero``
  ran it out of memory); it is opened non-blocking and checked on the open descriptor.
- UTF-8 only; no aliases (a "billion laughs" manifest expands exponentially and hung the CLI at 100% CPU);
  nesting at most ``MAX_DEPTH`` levels (20,000 nested brackets raised ``RecursionError``); at most
  ``MAX_SOURCES`` sources; no key twice in one mapping (YAML would keep the last one silently: ``path: docs``
  then ``path: ../outside`` read the outside folder). Each refusal names the line.
- Scanning and parsing are libyaml's (``yaml._yaml.CParser``, when PyYAML was built with it); composing is
  PyYAML's Python ``Composer``, which is where the checks above hook in. 100,000 sources: 15.2 s with the
  pure-Python loader, 3.8 s this way (before the count is refused); 10,000: about 0.4 s.
- The raw text of every source ``id`` is kept, so that an id YAML 1.1 turned into another type
  (``id: off`` → ``False``) gets a hint to quote it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from shared.errors import ConfigError

STR_TAG = "tag:yaml.org,2002:str"
MAX_BYTES = 8 * 1024 * 1024  # 100,000 short rss entries are 7.2 MB; MAX_SOURCES refuses them first
MAX_DEPTH = 32  # a real manifest nests 5-6 levels (sources, entry, auth / fields / paging, lists)
MAX_SOURCES = 10_000  # see docs/sources.md "Limits": one run keeps a result per source in its record


def _line(node_or_event: Any) -> int:
    mark = node_or_event.start_mark
    return int(mark.line) + 1 if mark is not None else 0


class _Refused(Exception):
    """One of the checks below refused the document: ``line`` and the message."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _Checks(Composer):
    """Composer hooks: aliases refused, nesting bounded, duplicate keys refused, sources counted."""

    depth = 0
    # from the parser and resolver this is mixed with (the yaml stubs do not type the mixins together)
    check_event: Any
    peek_event: Any
    get_event: Any
    resolve: Any

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(_line(event), f"aliases (*{event.anchor}) are not allowed in a manifest: write the "
                           "values out")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Refused(_line(self.peek_event()), f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_sequence_node(self, anchor: Any) -> Any:
        if self.depth != 2:  # only the top-level ``sources:`` list is counted
            return super().compose_sequence_node(anchor)
        start = self.get_event()
        tag = start.tag if start.tag not in (None, "!") else self.resolve(SequenceNode, None, start.implicit)
        node = SequenceNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        index = 0
        while not self.check_event(yaml.SequenceEndEvent):
            if index == MAX_SOURCES:
                raise _Refused(_line(self.peek_event()), f"more than {MAX_SOURCES:,} entries in one list: a "
                               f"manifest holds at most {MAX_SOURCES:,} sources (group many feeds or sites into "
                               "one source — a sitemap index, a json_api listing — or split the manifest "
                               "between task hubs)")
            node.value.append(self.compose_node(node, index))
            index += 1
        node.end_mark = self.get_event().end_mark
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                continue
            if key.value in seen:
                raise _Refused(_line(key), f"duplicate key {key.value!r} (first on line {seen[key.value]}): YAML "
                               "would keep only the last one; remove one of them")
            seen[key.value] = _line(key)
        return node


class PyManifestLoader(_Checks, Reader, Scanner, Parser, SafeConstructor, Resolver):
    """Pure Python: PyYAML's own scanner and parser."""

    def __init__(self, text: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        Composer.__init__(self)


ManifestLoader: type[Any] = PyManifestLoader
try:  # libyaml's scanner and parser (about 4 times faster), when PyYAML was built with it
    from yaml._yaml import CParser

    class CManifestLoader(_Checks, CParser, SafeConstructor, Resolver):
        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    ManifestLoader = CManifestLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml: the same checks, pure Python
    pass


def _raw_ids(root: Node | None) -> dict[int, str]:
    """``{index: raw text}`` of each ``sources[index].id`` scalar that YAML resolved to a non-string."""
    out: dict[int, str] = {}
    if not isinstance(root, MappingNode):
        return out
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "sources" and isinstance(value, SequenceNode):
            for index, item in enumerate(value.value):
                if not isinstance(item, MappingNode):
                    continue
                for k, v in item.value:
                    if isinstance(k, ScalarNode) and k.value == "id" and isinstance(v, ScalarNode) \
                            and v.tag != STR_TAG:
                        out[index] = v.value
    return out


def _refuse(path: Path, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}", [{"field": "manifest", "message": message}])


def read_text(path: Path) -> str:
    """The manifest's text: a regular file of at most ``MAX_BYTES``, UTF-8. ``ConfigError`` in one line
    otherwise (a FIFO, a device, a directory, a file too big, bytes that are not UTF-8)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except ValueError:  # a NUL in the path
        raise _refuse(path, "cannot read manifest: the file name contains a NUL character") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"{path}: cannot read manifest ({reason})",
                          [{"field": "manifest", "message": reason}]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            what = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO (named pipe)"
                    if stat.S_ISFIFO(info.st_mode) else "a device" if stat.S_ISCHR(info.st_mode)
                    or stat.S_ISBLK(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a file")
            raise _refuse(path, f"is {what}, not a regular file: a manifest is a YAML file")
        if info.st_size > MAX_BYTES:
            os.close(fd)
            raise _refuse(path, f"is {info.st_size / 1e6:.1f} MB: a manifest may be at most "
                          f"{MAX_BYTES // 2**20} MiB")
    except OSError:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as stream:
        try:
            data = stream.read(MAX_BYTES + 1)
        except OSError as exc:
            if exc.errno == errno.EAGAIN:  # pragma: no cover - a regular file never blocks
                raise _refuse(path, "cannot read manifest now") from None
            raise ConfigError(f"{path}: cannot read manifest ({exc.strerror})",
                              [{"field": "manifest", "message": str(exc.strerror)}]) from None
    if len(data) > MAX_BYTES:  # it grew while we read it
        raise _refuse(path, f"grew past {MAX_BYTES // 2**20} MiB while it was read: a manifest may be at most "
                      f"{MAX_BYTES // 2**20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = (f"byte {exc.object[exc.start]:#04x} at offset {exc.start} is not UTF-8: save the file as UTF-8")
        raise ConfigError(f"{path}: not UTF-8 text ({message})",
                          [{"field": "manifest", "message": message}]) from None


def parse_yaml(text: str, where: str, loader_class: type[Any] | None = None) -> tuple[Any, dict[int, str]]:
    """The parsed document and the raw text of its non-string source ids; ``ConfigError`` naming
    ``where`` and the line."""
    if "\x00" in text:  # libyaml stops reading at a NUL; refuse it here with its line
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ConfigError(f"{where}: line {line}: a NUL character",
                          [{"field": "manifest", "message": f"line {line}: contains a NUL character"}])
    loader = (loader_class or ManifestLoader)(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except _Refused as exc:
        raise ConfigError(f"{where}: line {exc.line}: {exc}",
                          [{"field": "manifest", "message": f"line {exc.line}: {exc}"}]) from None
    except yaml.YAMLError as exc:
        message = _yaml_message(exc)
        raise ConfigError(f"{where}: not valid YAML ({message})",
                          [{"field": "manifest", "message": message}]) from None
    finally:
        loader.dispose()
    return data, _raw_ids(node)


def _yaml_message(exc: yaml.YAMLError) -> str:
    """One line: where and what (libyaml names the text "<unicode string>"; the caller names the file)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    return " ".join(str(exc).split())


def read_yaml(path: Path) -> tuple[Any, dict[int, str]]:
    """The parsed manifest and the raw text of its non-string source ids; ``ConfigError`` naming the file."""
    return parse_yaml(read_text(path), str(path))


def id_hint(raw: str, value: Any) -> str:
    if not raw.strip():
        return "must not be empty"
    kind = "a boolean" if isinstance(value, bool) else "empty" if value is None else f"a {type(value).__name__}"
    return f'YAML read {raw} as {kind}, not text: quote it (id: "{raw}")'
