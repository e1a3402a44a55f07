"""What azd and the Functions platform read besides the templates: azure.yaml, the parameters file,
requirements.txt, .funcignore and host.json."""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT
from tests.infra.bicep import BicepFile
from tests.infra.conftest import INFRA


def test_azure_yaml_deploys_the_repo_as_a_python_function_app() -> None:
    spec = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text())
    assert spec["name"] == "harvest"
    assert spec["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert spec["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    app = BicepFile.load(INFRA / "modules" / "functionapp.bicep")
    assert app.params["serviceName"].value == "api"  # the azd-service-name tag azd looks the app up by


def test_parameters_file_feeds_main() -> None:
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    main = BicepFile.load(INFRA / "main.bicep")
    assert set(params) <= set(main.params)
    assert {name for name, p in main.params.items() if not p.has_default} <= set(params)
    assert params["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"
    assert params["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"
    for name, entry in params.items():  # azd env defaults must be values the template allows
        match = re.fullmatch(r"\$\{\w+=(.*)\}", str(entry["value"]))
        allowed = main.params[name].decorators.get("allowed")
        if match and allowed:
            assert match[1] in allowed[0], name


def test_requirements_match_the_project_dependencies() -> None:
    """The platform installs requirements.txt; it must be exactly pyproject's runtime dependencies."""
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = [line.strip() for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()]
    listed = [line for line in lines if line and not line.startswith("#")]
    assert sorted(listed) == sorted(declared), (
        "requirements.txt is what Azure installs: keep it equal to [project].dependencies of pyproject.toml "
        f"(missing: {sorted(set(declared) - set(listed))}, extra: {sorted(set(listed) - set(declared))}); "
        "regenerate its package lines with: python -c \"import tomllib; "
        "print(*tomllib.load(open('pyproject.toml','rb'))['project']['dependencies'], sep=chr(10))\""
    )
    assert not any(re.match(r"azure-functions-worker\b", line) for line in listed)


def deployed_files() -> set[str]:
    """The files a deployment uploads: the repository minus .funcignore (gitignore-style, simplified)."""
    patterns = [p.strip() for p in (REPO_ROOT / ".funcignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(rel: str, is_dir: bool) -> bool:
        name = rel.rsplit("/", 1)[-1]
        for pattern in patterns:
            anchored, pattern = pattern.startswith("/"), pattern.lstrip("/")
            if pattern.endswith("/"):
                if not is_dir:
                    continue
                pattern = pattern[:-1]
            if fnmatch.fnmatch(rel, pattern) or (not anchored and fnmatch.fnmatch(name, pattern)):
                return True
        return False

    out: set[str] = set()

    def walk(folder: Path) -> None:
        for path in folder.iterdir():
            rel = path.relative_to(REPO_ROOT).as_posix()
            if ignored(rel, path.is_dir()):
                continue
            if path.is_dir():
                walk(path)
            else:
                out.add(rel)

    walk(REPO_ROOT)
    return out


def test_the_package_holds_the_app_and_nothing_local() -> None:
    files = deployed_files()
    for needed in ("function_app.py", "host.json", "requirements.txt", "sources.yaml", "shared/settings.py",
                   "triggers/daily.py", "orchestrators/run.py", "activities/stages.py"):
        assert needed in files, needed
    assert any(f.startswith("samples/docs/") for f in files)  # the default manifest's folder source
    for unwanted in (".venv/", "node_modules/", "tests/", ".git/", ".harvest/", "infra/", "bench/", "devhost/", "cli/"):
        assert not any(f.startswith(unwanted) for f in files), unwanted
    assert "local.settings.json" not in files and "pyproject.toml" not in files
    assert not any(f.endswith((".pyc", ".bicep")) for f in files)


def test_host_json_suits_the_deployment() -> None:
    host = json.loads((REPO_ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    bundle = host["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle" and bundle["version"].startswith("[4.")
    durable = host["extensions"]["durableTask"]
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,44}", durable["hubName"])
    assert "connectionStringName" not in durable.get("storageProvider", {})  # the identity-based default
    assert "ConnectionString" not in json.dumps(host) and "AccountKey" not in json.dumps(host)


def test_local_settings_never_reach_azure() -> None:
    values = json.loads((REPO_ROOT / "local.settings.json").read_text())["Values"]
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"  # the emulator only
    assert "local.settings.json" not in deployed_files()
