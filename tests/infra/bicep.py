"""Bicep files as data, parsed with the tree-sitter Bicep grammar (PyPI ``tree-sitter-bicep``).

No Bicep CLI can be installed here, so the tests parse every template with the grammar (syntax errors are
ERROR / MISSING nodes), then look at what the compiler would also check: identifiers that resolve to a
declaration or a known function, module parameters against the module's declared parameters, module
outputs that exist. Literal values become Python values; any other expression stays an ``Expr`` holding
its source text, so properties can be asserted exactly (``allowSharedKeyAccess`` is ``False``, not
"something").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tree_sitter
import tree_sitter_bicep

DECLARATIONS = {
    "parameter_declaration": "param",
    "variable_declaration": "var",
    "resource_declaration": "resource",
    "module_declaration": "module",
    "output_declaration": "output",
}
# Every function and decorator the templates may call (Bicep's built-ins that Harvest uses).
FUNCTIONS = {
    "any", "concat", "contains", "empty", "guid", "length", "last", "first", "take", "skip", "toLower", "toUpper",
    "uniqueString", "union", "string", "int", "bool", "json", "format", "replace", "split", "join", "substring",
    "resourceGroup", "subscription", "tenant", "deployment", "environment", "resourceId", "subscriptionResourceId",
    "tenantResourceId", "extensionResourceId", "toObject", "filter", "map", "reduce", "items", "coalesce",
    "startsWith", "endsWith", "trim", "loadJsonContent", "loadTextContent", "deployer", "range", "min", "max",
}
DECORATORS = {"description", "allowed", "minLength", "maxLength", "minValue", "maxValue", "metadata", "secure",
              "batchSize", "sealed", "export"}


@dataclass(frozen=True)
class Expr:
    """A non-literal expression, kept as its source text."""

    text: str

    def refers_to(self, name: str) -> bool:
        return self.text == name or self.text.startswith(f"{name}.") or self.text.startswith(f"{name}[")


@dataclass(frozen=True)
class Call(Expr):
    """A function call: its name and its arguments as values."""

    name: str = ""
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Ternary(Expr):
    """``condition ? yes : no``, its arms as values."""

    condition: Expr = Expr("")
    yes: Any = None
    no: Any = None


@dataclass
class Decl:
    kind: str
    name: str
    node: tree_sitter.Node
    decorators: dict[str, list[Any]] = field(default_factory=dict)
    type: str | None = None  # a param/output's type, a resource's type@version, a module's path
    value: Any = None  # a param's default, a var/output's value, a resource/module's body
    condition: Expr | None = None
    existing: bool = False
    has_default: bool = False

    @property
    def description(self) -> str | None:
        args = self.decorators.get("description")
        return args[0] if args else None


@functools.cache
def parser() -> tree_sitter.Parser:
    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bicep.language()))


def _text(node: tree_sitter.Node) -> str:
    return (node.text or b"").decode()


def value(node: tree_sitter.Node) -> Any:
    """A literal as Python (str, int, bool, None, dict, list); anything else as ``Expr``."""
    kind = node.type
    if kind == "string":
        if any(c.type == "interpolation" for c in node.named_children):
            return Expr(_text(node))
        raw = "".join(_text(c) for c in node.named_children if c.type == "string_content")
        return raw.replace("\\'", "'").replace("\\\\", "\\")
    if kind == "number":
        return int(_text(node))
    if kind == "boolean":
        return _text(node) == "true"
    if kind == "null":
        return None
    if kind == "object":
        out: dict[str, Any] = {}
        for prop in node.named_children:
            if prop.type != "object_property":
                continue
            key, val = prop.named_children[0], prop.named_children[-1]
            out[value(key) if key.type == "string" else _text(key)] = value(val)
        return out
    if kind == "array":
        return [value(c) for c in node.named_children]
    if kind == "ternary_expression" and len(node.named_children) == 3:
        cond, yes, no = node.named_children
        return Ternary(_text(node), Expr(_text(cond)), value(yes), value(no))
    if kind == "call_expression" and node.named_children[0].type == "identifier":
        args = node.named_children[1].named_children if len(node.named_children) > 1 else []
        return Call(_text(node), _text(node.named_children[0]), tuple(value(a) for a in args))
    return Expr(_text(node))


@dataclass
class BicepFile:
    path: Path
    tree: tree_sitter.Tree
    decls: list[Decl]
    target_scope: str = "resourceGroup"

    @classmethod
    def load(cls, path: Path) -> BicepFile:
        tree = parser().parse(path.read_bytes())
        decls: list[Decl] = []
        pending: dict[str, list[Any]] = {}
        scope = "resourceGroup"
        for node in tree.root_node.named_children:
            if node.type == "decorators":
                for dec in node.named_children:
                    call = dec.named_children[0]
                    name = _text(call.named_children[0]) if call.type == "call_expression" else _text(call)
                    args = call.named_children[1].named_children if call.type == "call_expression" else []
                    pending[name] = [value(a) for a in args]
            elif node.type == "target_scope_assignment":
                scope = value(node.named_children[0])
            elif node.type in DECLARATIONS:
                decls.append(_declaration(node, pending))
                pending = {}
        return cls(path=path, tree=tree, decls=decls, target_scope=scope)

    def of(self, kind: str) -> dict[str, Decl]:
        return {d.name: d for d in self.decls if d.kind == kind}

    @property
    def params(self) -> dict[str, Decl]:
        return self.of("param")

    @property
    def vars(self) -> dict[str, Decl]:
        return self.of("var")

    @property
    def outputs(self) -> dict[str, Decl]:
        return self.of("output")

    @property
    def modules(self) -> dict[str, Decl]:
        return self.of("module")

    def resources(self, type_name: str | None = None) -> list[Decl]:
        """Resources, optionally only those of ``type_name`` (without the API version)."""
        return [d for d in self.decls if d.kind == "resource" and type_name in (None, str(d.type).split("@")[0])]

    def resource(self, type_name: str) -> Decl:
        found = self.resources(type_name)
        assert len(found) == 1, f"{self.path.name}: {len(found)} resources of type {type_name}"
        return found[0]

    def syntax_errors(self) -> list[str]:
        errors: list[str] = []

        def walk(node: tree_sitter.Node) -> None:
            if node.is_error or node.is_missing:
                line, col = node.start_point
                what = "missing " + node.type if node.is_missing else "unexpected " + _text(node)[:40]
                errors.append(f"{self.path.name}:{line + 1}:{col + 1}: {what!r}")
            for child in node.children:
                walk(child)

        walk(self.tree.root_node)
        return errors

    def unresolved(self) -> list[str]:
        """Identifiers that are neither declared here, a lambda/loop variable, nor a known function."""
        declared = {d.name for d in self.decls if d.kind != "output"}
        problems: list[str] = []
        locals_: set[str] = set()

        def walk(node: tree_sitter.Node) -> None:
            if node.type == "lambda_expression":
                locals_.update(_text(c) for c in node.named_children[:-1] if c.type == "identifier")
            if node.type in ("for_statement",):
                locals_.update(_text(c) for c in node.named_children if c.type == "identifier")
            for child in node.named_children:
                walk(child)
            if node.type != "identifier":
                return
            parent = node.parent
            assert parent is not None
            name = _text(node)
            first = parent.named_children[0].id == node.id
            if first and parent.type in (*DECLARATIONS, "object_property"):
                return
            if parent.type == "call_expression" and first:
                known = DECORATORS | FUNCTIONS if parent.parent and parent.parent.type == "decorator" else FUNCTIONS
                if name not in known:
                    problems.append(f"{self.path.name}:{node.start_point[0] + 1}: unknown function {name}()")
                return
            if parent.type in ("lambda_expression", "for_statement") or parent.type == "type":
                return
            if name not in declared and name not in locals_:
                problems.append(f"{self.path.name}:{node.start_point[0] + 1}: undefined symbol {name!r}")

        walk(self.tree.root_node)
        return problems


def _declaration(node: tree_sitter.Node, decorators: dict[str, list[Any]]) -> Decl:
    kind = DECLARATIONS[node.type]
    children = node.named_children
    decl = Decl(kind=kind, name=_text(children[0]), node=node, decorators=decorators)
    decl.existing = any(c.type == "existing" for c in node.children)
    rest = children[1:]
    if kind in ("param", "output"):
        decl.type = _text(rest[0]) if rest else None
        decl.value = value(rest[1]) if len(rest) > 1 else None
        decl.has_default = len(rest) > 1
    elif kind == "var":
        decl.value = value(rest[0])
    else:
        decl.type = value(rest[0])
        body = rest[-1]
        if body.type == "if_statement":
            decl.condition = Expr(_text(body.named_children[0]))
            body = body.named_children[-1]
        decl.value = value(body)
    return decl
