"""Every template parses with the Bicep grammar, resolves its names, and fits the modules it calls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.infra.bicep import BicepFile, Expr
from tests.infra.conftest import INFRA, bicep_paths

EXPECTED = {"main", "identity", "monitoring", "storage", "functionapp", "openai", "keyvault", "search"}


def test_one_module_per_resource_kind() -> None:
    assert {p.stem for p in bicep_paths()} == EXPECTED
    assert all(p.parent == INFRA / "modules" for p in bicep_paths() if p.stem != "main")


@pytest.mark.parametrize("path", bicep_paths(), ids=lambda p: p.name)
def test_parses_without_syntax_errors(path: Path) -> None:
    template = BicepFile.load(path)
    assert template.syntax_errors() == []
    assert template.decls, "nothing declared"


@pytest.mark.parametrize("path", bicep_paths(), ids=lambda p: p.name)
def test_every_name_resolves(path: Path) -> None:
    assert BicepFile.load(path).unresolved() == []


@pytest.mark.parametrize("path", bicep_paths(), ids=lambda p: p.name)
def test_parameters_and_outputs_are_described(path: Path) -> None:
    template = BicepFile.load(path)
    undocumented = [d.name for d in template.decls if d.kind in ("param", "output") and not d.description]
    assert undocumented == []


@pytest.mark.parametrize("path", bicep_paths(), ids=lambda p: p.name)
def test_api_versions_are_pinned_dates(path: Path) -> None:
    for resource in BicepFile.load(path).resources():
        assert re.fullmatch(r"Microsoft\.[A-Za-z]+/[A-Za-z/]+@\d{4}-\d{2}-\d{2}", str(resource.type)), resource.type


def test_module_calls_match_module_declarations(templates: dict[str, BicepFile]) -> None:
    for caller in templates.values():
        for module in caller.modules.values():
            target = BicepFile.load((caller.path.parent / str(module.type)).resolve())
            passed = set(module.value["params"])
            declared = set(target.params)
            required = {name for name, p in target.params.items() if not p.has_default}
            assert passed <= declared, f"{module.name}: unknown params {passed - declared}"
            assert required <= passed, f"{module.name}: missing params {required - passed}"
            for name, param in target.params.items():  # a literal argument must satisfy @allowed
                arg = module.value["params"].get(name)
                if "allowed" in param.decorators and arg is not None and not isinstance(arg, Expr):
                    assert arg in param.decorators["allowed"][0], f"{module.name}.{name}={arg!r}"
            used = set(re.findall(rf"\b{module.name}\.outputs\.(\w+)", caller.path.read_text()))
            assert used <= set(target.outputs), f"{module.name}: no outputs {used - set(target.outputs)}"


def test_the_checks_catch_mistakes(tmp_path: Path) -> None:
    source = (INFRA / "modules" / "storage.bicep").read_text()
    broken = {
        "brace.bicep": source.replace("publicAccess: 'None'\n  }\n}", "publicAccess: 'None'\n  }\n", 1),
        "quote.bicep": source.replace("'Standard_LRS'", "'Standard_LRS", 1),
        "symbol.bicep": source.replace("scope: account", "scope: acount", 1),
        "function.bicep": source.replace("subscriptionResourceId(", "subscriptionResourceID(", 1),
    }
    for name, text in broken.items():
        assert text != source, name
        (tmp_path / name).write_text(text)
        template = BicepFile.load(tmp_path / name)
        assert template.syntax_errors() or template.unresolved(), f"{name} was not caught"
