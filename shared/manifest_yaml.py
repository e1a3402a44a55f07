"""Reading a manifest's YAML safely: UTF-8 only, no aliases (a "billion laughs" manifest expands
exponentially and hung the CLI at 100% CPU), and the raw text of every source ``id`` kept, so that an id
YAML 1.1 turned into another type (``id: off`` → ``False``) gets a hint to quote it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from shared.errors import ConfigError

STR_TAG = "tag:yaml.org,2002:str"


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (``*name``) before expanding anything."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]  # the yaml stubs leave peek_event untyped
            raise ComposerError(None, None, f"aliases (*{event.anchor}) are not allowed in a manifest: "
                                "write the values out", event.start_mark)
        return super().compose_node(parent, index)


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


def read_yaml(path: Path) -> tuple[Any, dict[int, str]]:
    """The parsed manifest and the raw text of its non-string source ids; ``ConfigError`` naming the file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read manifest", [{"field": "manifest", "message": str(exc)}]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text", [{"field": "manifest", "message":
                          f"byte {exc.object[exc.start]:#04x} at offset {exc.start} is not UTF-8: "
                          "save the file as UTF-8"}]) from None
    loader = _NoAliasLoader(text)
    loader.name = str(path)  # error marks name the file
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML", [{"field": "manifest", "message": str(exc)}]) from None
    finally:
        loader.dispose()
    return data, _raw_ids(node)


def id_hint(raw: str, value: Any) -> str:
    if not raw.strip():
        return "must not be empty"
    kind = "a boolean" if isinstance(value, bool) else "empty" if value is None else f"a {type(value).__name__}"
    return f'YAML read {raw} as {kind}, not text: quote it (id: "{raw}")'
